import base64
import io
import json

import pytest
from PIL import Image

from backend.errors import ValidationFailed
from backend.identity.captcha import ALPHABET, CAPTCHA_TTL, Captchas
from backend.identity.services import CAPTCHAS_PER_IP_MINUTE as CAPTCHAS_PER_MINUTE
from backend.identity.services import captchas


@pytest.fixture
def store(runtime):
    return Captchas(runtime.redis, runtime.keys)


def answer(runtime, captcha_id):
    return json.loads(runtime.redis.get(runtime.keys("captcha", captcha_id)))["a"]


def test_captcha_is_png_data_url_with_four_unambiguous_chars_when_created(runtime, store):
    new = store.new()
    assert new.image.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(new.image.split(",", 1)[1])))
    assert image.format == "PNG" and image.size == (120, 40)
    code = answer(runtime, new.captcha_id)
    assert len(code) == 4 and all(c.upper() in ALPHABET for c in code)
    assert not set("0O1IL") & set(ALPHABET)
    assert new.expires_in == CAPTCHA_TTL
    assert 0 < runtime.redis.ttl(runtime.keys("captcha", new.captcha_id)) <= CAPTCHA_TTL + 60


def test_captcha_accepted_in_any_case_when_answer_right(runtime, store):
    new = store.new()
    store.check(new.captcha_id, " " + answer(runtime, new.captcha_id).upper() + " ")


def test_captcha_single_use_when_checked_twice(runtime, store):
    new = store.new()
    code = answer(runtime, new.captcha_id)
    store.check(new.captcha_id, code)
    with pytest.raises(ValidationFailed) as err:
        store.check(new.captcha_id, code)
    assert err.value.error_code == "captcha.expired"


def test_captcha_spent_when_answer_wrong(runtime, store):
    new = store.new()
    code = answer(runtime, new.captcha_id)
    with pytest.raises(ValidationFailed) as err:
        store.check(new.captcha_id, "####")
    assert err.value.error_code == "captcha.invalid"
    with pytest.raises(ValidationFailed):
        store.check(new.captcha_id, code)


def test_captcha_refused_when_expired_by_clock(runtime, store, clock):
    new = store.new()
    code = answer(runtime, new.captcha_id)
    clock.advance(seconds=CAPTCHA_TTL + 1)
    with pytest.raises(ValidationFailed) as err:
        store.check(new.captcha_id, code)
    assert err.value.error_code == "captcha.expired"


def test_captcha_accepted_when_just_before_expiry(runtime, store, clock):
    new = store.new()
    code = answer(runtime, new.captcha_id)
    clock.advance(seconds=CAPTCHA_TTL - 1)
    store.check(new.captcha_id, code)


def test_fixed_captcha_answers_configured_code_when_not_production(runtime):
    runtime.settings = runtime.settings.with_(captcha_fixed="AB34")
    store = captchas(runtime)
    new = store.new()
    store.check(new.captcha_id, "ab34")


def test_fixed_captcha_ignored_when_production(runtime):
    # "0000" cannot come out of the alphabet, so only the switch could make it the answer
    runtime.settings = runtime.settings.with_(captcha_fixed="0000", env="production")
    store = captchas(runtime)
    new = store.new()
    with pytest.raises(ValidationFailed):
        store.check(new.captcha_id, "0000")


def test_captcha_creation_throttled_when_one_address_asks_too_often(client, clock):
    # All inside one frozen moment: the minute window cannot close while the images are drawn.
    statuses = [client.post("/api/v1/captchas").status_code for _ in range(CAPTCHAS_PER_MINUTE + 1)]
    assert statuses[:-1] == [201] * CAPTCHAS_PER_MINUTE
    assert statuses[-1] == 429
