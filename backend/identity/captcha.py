"""Image captchas: a 4-character code drawn with Pillow, the answer kept in Redis.

Single use (the first check consumes it, right or wrong), case-insensitive, and expiring after
``CAPTCHA_TTL`` seconds by the application clock; the Redis TTL is only a garbage-collection
backstop, so expiry is decided by :func:`backend.clock.utcnow` which tests control.
"""

from __future__ import annotations

import base64
import io
import json
import random
import secrets
from dataclasses import dataclass
from functools import lru_cache

import redis
from PIL import Image, ImageDraw, ImageFont

from backend import clock
from backend.cache import Keys
from backend.errors import ValidationFailed

CAPTCHA_TTL = 180
CODE_LENGTH = 4
# No 0/O, 1/I/L: characters people mistake for one another on a small phone screen.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
WIDTH, HEIGHT = 120, 40

_rng = random.SystemRandom()


@dataclass(frozen=True)
class NewCaptcha:
    captcha_id: str
    image: str  # data:image/png;base64,…
    expires_in: int


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=26)
    except ImportError:  # Pillow built without FreeType: the small bitmap font still works
        return ImageFont.load_default()


def _ink() -> tuple[int, int, int]:
    return (_rng.randint(10, 110), _rng.randint(10, 110), _rng.randint(60, 160))


def render_png(code: str) -> bytes:
    """The code in tilted glyphs over noise lines and dots, as PNG bytes."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (244, 246, 250))
    draw = ImageDraw.Draw(image)
    font = _font()
    step = (WIDTH - 12) // max(len(code), 1)
    for i, char in enumerate(code):
        glyph = Image.new("RGBA", (34, 38), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((6, 2), char, font=font, fill=_ink())
        glyph = glyph.rotate(_rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC)
        image.paste(glyph, (6 + i * step + _rng.randint(-2, 2), _rng.randint(-2, 3)), glyph)
    for _ in range(5):
        start = (_rng.randint(0, WIDTH), _rng.randint(0, HEIGHT))
        end = (_rng.randint(0, WIDTH), _rng.randint(0, HEIGHT))
        draw.line([start, end], fill=_ink(), width=1)
    for _ in range(120):
        draw.point((_rng.randint(0, WIDTH - 1), _rng.randint(0, HEIGHT - 1)), fill=_ink())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _expired() -> ValidationFailed:
    return ValidationFailed(
        "图形验证码已失效，请刷新后重新输入",
        error_code="captcha.expired",
        errors={"captcha_code": ["图形验证码已失效"]},
    )


class Captchas:
    """``fixed`` (GJJ_CAPTCHA_FIXED) makes every answer that code; never honoured in production."""

    def __init__(self, r: redis.Redis, keys: Keys, fixed: str = "") -> None:
        self.r = r
        self.k = keys
        self.fixed = fixed

    def new(self) -> NewCaptcha:
        code = self.fixed or "".join(_rng.choice(ALPHABET) for _ in range(CODE_LENGTH))
        captcha_id = secrets.token_urlsafe(16)
        expires_at = clock.utcnow().timestamp() + CAPTCHA_TTL
        self.r.set(
            self.k("captcha", captcha_id),
            json.dumps({"a": code.lower(), "exp": expires_at}),
            ex=CAPTCHA_TTL + 60,
        )
        png = base64.b64encode(render_png(code)).decode("ascii")
        return NewCaptcha(captcha_id, f"data:image/png;base64,{png}", CAPTCHA_TTL)

    def check(self, captcha_id: str, answer: str) -> None:
        """Consume the captcha; raise a 422 (``captcha.*``) unless ``answer`` matches in time."""
        # GETDEL: whoever reads the captcha removes it, so a guess can never be retried.
        raw = self.r.getdel(self.k("captcha", captcha_id)) if captcha_id else None
        if raw is None:
            raise _expired()
        data = json.loads(raw)
        if clock.utcnow().timestamp() >= float(data["exp"]):
            raise _expired()
        if not secrets.compare_digest(data["a"].encode(), (answer or "").strip().lower().encode()):
            raise ValidationFailed(
                "图形验证码不正确，请刷新后重新输入",
                error_code="captcha.invalid",
                errors={"captcha_code": ["图形验证码不正确"]},
            )
