"""``gjj seed`` and the pieces of ``gjj demo`` (its serving loop is gunicorn's ``serve``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from adapters.alipay import AlipayClient, AlipayConfig
from backend.channels.models import ChannelIdentity
from backend.cli import Context, cli
from backend.runtime import Runtime
from devtools import demo
from devtools.seed.csvfile import HEADER, read_members_csv
from devtools.seed.people import channel_identities
from devtools.seed.runner import seed_centre


def _invoke(runtime: Runtime, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), obj=Context(runtime=runtime))


def test_seed_command_writes_logins_when_database_is_empty(
    runtime: Runtime, tmp_path: Path
) -> None:
    csv_path = tmp_path / "out" / "demo.csv"
    result = _invoke(
        runtime,
        "seed",
        "--members",
        "12",
        "--seed",
        "5",
        "--csv",
        str(csv_path),
        "--as-of",
        "2026-11-20",
    )
    assert result.exit_code == 0, result.output
    assert "seeded 12 members" in result.output
    rows = read_members_csv(csv_path)
    assert len(rows) == 12 and tuple(rows[0]) == HEADER
    assert rows[0]["id_number"] in result.output  # the logins to try are printed


def test_seed_command_creates_the_schema_when_database_is_new(
    settings: Any, redis_client: Any, tmp_path: Path
) -> None:
    """What the README's benchmark section does first on a new database: ``gjj seed``."""
    from backend.bootstrap import bootstrap
    from backend.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    runtime = bootstrap(settings, engine=engine, redis_client=redis_client)
    try:
        result = _invoke(runtime, "seed", "--members", "3", "--csv", str(tmp_path / "a.csv"))
    finally:
        engine.dispose()
    assert result.exit_code == 0, result.output
    assert "seeded 3 members" in result.output


def test_seed_command_refuses_when_members_exist(runtime: Runtime, tmp_path: Path) -> None:
    seed_centre(runtime, members=3, progress=False)
    refused = _invoke(runtime, "seed", "--members", "3", "--csv", str(tmp_path / "a.csv"))
    assert refused.exit_code == 1
    assert "already has 3 members" in refused.output
    skipped = _invoke(
        runtime, "seed", "--members", "3", "--if-empty", "--csv", str(tmp_path / "b.csv")
    )
    assert skipped.exit_code == 0 and "skipped" in skipped.output
    assert not (tmp_path / "b.csv").exists()


def test_demo_prepare_seeds_once_when_run_twice(runtime: Runtime, tmp_path: Path) -> None:
    csv_path = tmp_path / "fresh-clone" / "instance" / "demo-members.csv"
    first = demo.prepare(runtime, members=8, seed=1, csv_path=csv_path)
    again = demo.prepare(runtime, members=8, seed=1, csv_path=csv_path)
    assert not first.skipped and again.skipped and again.members == 8
    assert len(read_members_csv(csv_path)) == 8


@pytest.fixture
def fakes(runtime: Runtime, tmp_path: Path) -> Any:
    seed_centre(runtime, members=20, seed=2, csv_path=tmp_path / "demo.csv", progress=False)
    rows = read_members_csv(tmp_path / "demo.csv")
    started = demo.start_channel_fakes(
        runtime.settings, rows, alipay_port=0, wechat_port=0, keys_dir=tmp_path / "keys"
    )
    yield started, rows, tmp_path / "keys"
    started.stop()


def test_alipay_fake_knows_demo_members_when_demo_starts(fakes: Any, runtime: Runtime) -> None:
    started, rows, keys_dir = fakes
    member = next(r for r in rows if r["phone"])
    client = AlipayClient(
        AlipayConfig(
            app_id=runtime.settings.fakes_alipay_app_id,
            app_private_key=(keys_dir / "app_private_key.pem").read_text(),
            alipay_public_key=(keys_dir / "gateway_public_key.pem").read_text(),
            server_url=started.alipay.gateway_url,
            timeout=5,
        )
    )
    user_id = channel_identities(member["id_number"])["alipay_user_id"]
    token = client.exchange_auth_code(started.alipay.mint_auth_code(user_id))
    info = client.user_info(token.access_token)
    assert (info.cert_no, info.user_name, info.mobile) == (
        member["id_number"],
        member["name"],
        member["phone"],
    )
    assert started.users == sum(1 for r in rows if r["phone"])


def test_seeded_wechat_bindings_exist_in_the_fake_when_demo_starts(
    fakes: Any, session: Any
) -> None:
    started, _rows, _keys = fakes
    bound = session.scalars(
        select(ChannelIdentity.open_id).where(ChannelIdentity.channel == "wechat")
    ).all()
    assert bound
    assert set(bound) <= set(started.wechat.users)


def test_banner_lists_logins_and_switches_when_demo_starts(fakes: Any, runtime: Runtime) -> None:
    started, rows, _keys = fakes
    seeded = seed_centre(runtime, members=20, if_empty=True, progress=False)
    text = demo.banner(
        runtime.settings, url="http://127.0.0.1:8000", members=rows, seeded=seeded, fakes=started
    )
    first = next(r for r in rows if r["registered"] == "true")
    assert first["id_number"] in text and first["password"] in text
    assert runtime.settings.sms_outbox in text
    assert "GJJ_CAPTCHA_FIXED" in text
    assert started.alipay.url in text


def test_fakes_process_serves_demo_members_when_spawned(runtime: Runtime, tmp_path: Path) -> None:
    seed_centre(runtime, members=6, csv_path=tmp_path / "demo.csv", progress=False)
    rows = read_members_csv(tmp_path / "demo.csv")
    settings = runtime.settings.with_(
        fakes_alipay_port=0, fakes_wechat_port=0, fakes_keys_dir=str(tmp_path / "keys")
    )
    process = demo.spawn_channel_fakes(settings, rows, state_path=tmp_path / "state.json")
    try:
        member = next(r for r in rows if r["phone"])
        user_id = channel_identities(member["id_number"])["alipay_user_id"]
        answer = requests.post(
            f"{process.alipay_url}/__admin/auth-codes", json={"user_id": user_id}, timeout=5
        )
        assert answer.status_code == 200 and answer.json()["auth_code"]
        users = requests.get(f"{process.wechat_url}/__admin/users", timeout=5).json()["users"]
        assert len(users) == process.users == sum(1 for r in rows if r["phone"])
    finally:
        process.stop()
    assert process.process.returncode is not None


def test_demo_caller_can_post_to_the_internal_api_when_no_keys_configured(
    make_runtime, runtime: Runtime, make: Any
) -> None:
    from backend.app import create_app

    assert demo.with_demo_internal_key(runtime.settings.with_(internal_keys={"core": "x"})) == (
        runtime.settings.with_(internal_keys={"core": "x"})
    )
    runtime = make_runtime(
        settings=demo.with_demo_internal_key(runtime.settings.with_(internal_keys={}))
    )
    key_id, secret = demo.DEMO_INTERNAL_KEY
    assert runtime.settings.internal_keys == {key_id: secret}
    member = make.member(password="Demo2024")
    client = create_app(runtime=runtime).test_client()
    r = make.signed(
        client,
        "POST",
        "/internal/v1/messages",
        {
            "id_number": member.plain_id_number,
            "dedupe_key": "demo-1",
            "business_name": "业务通知",
            "content": "演示消息",
        },
        key_id=key_id,
        secret=secret,
    )
    assert r.status_code == 201, r.json
    rows = [
        {
            "id_number": member.plain_id_number,
            "registered": "true",
            "phone": "",
            "name": "x",
            "password": "Demo2024",
            "has_loan": "false",
        }
    ]
    seeded = seed_centre(runtime, members=1, if_empty=True, progress=False)
    text = demo.banner(
        runtime.settings, url="http://127.0.0.1:8000", members=rows, seeded=seeded, fakes=None
    )
    assert f"gjj internal curl POST /internal/v1/messages --key {key_id}" in text
    # The banner names the caller, never its secret (issue 11).
    assert runtime.settings.internal_keys[key_id] not in text


@pytest.mark.parametrize("command", ["seed", "demo"])
def test_seed_and_demo_say_what_to_install_when_the_dev_tools_are_missing(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """The production wheel has no ``devtools``: the commands name the install, no traceback."""
    import sys

    for name in [m for m in sys.modules if m == "devtools" or m.startswith("devtools.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "devtools", None)  # import devtools… fails as if absent

    result = _invoke(runtime, command)

    assert result.exit_code == 1
    assert "make install" in result.output and "pip install -e '.[dev]'" in result.output
