from decimal import Decimal

from click.testing import CliRunner
from sqlalchemy import select

from backend.accounts.models import FundAccount
from backend.audit.models import AuditEvent
from backend.cli import Context, cli
from backend.identity.tokens import token_store
from backend.members.models import Member
from backend.members.services import disable_online_access
from tests.api.identity import PASSWORD, bearer, last_code, log_in


def test_me_shows_customer_and_account_with_masked_identity_when_logged_in(
    client, make, login, session
):
    employer = make.employer("示范市某某建设有限公司")
    member = make.member(password=PASSWORD, balance="12345.60", account=False)
    account = make.account(member, balance=Decimal("12345.60"), status="sealed", employer=employer)
    session.commit()
    r = client.get("/api/v1/me", headers=login(member))
    assert r.status_code == 200
    body = r.json
    assert body["name"] == member.name
    assert body["masked_id_number"] == member.id_number_masked
    assert body["masked_phone"] == member.phone_masked
    assert body["account"] == {
        "account_no": account.account_no,
        "status": "sealed",
        "status_name": "封存",
        "balance": "12345.60",
        "opened_on": "2018-03-01",
    }
    assert body["employer_name"] == "示范市某某建设有限公司"
    assert body["employer"]["unit_account_no"] == employer.unit_account_no
    assert body["registered_at"].endswith("+08:00")
    text = r.get_data(as_text=True)
    assert member.plain_id_number not in text and member.plain_phone not in text


def test_me_answers_null_account_when_member_has_no_fund_account(client, make, login):
    member = make.member(account=False)
    r = client.get("/api/v1/me", headers=login(member))
    assert r.status_code == 200
    assert r.json["account"] is None and r.json["employer"] is None


def test_me_needs_login_when_no_token(client):
    assert client.get("/api/v1/me").status_code == 401


def test_preferences_default_when_never_set(client, make, login):
    member = make.member()
    r = client.get("/api/v1/me/preferences", headers=login(member))
    assert r.json == {"sound_enabled": True, "push_channels": []}


def test_preferences_patch_changes_only_given_fields_when_valid(client, make, login):
    member = make.member()
    headers = login(member)
    r = client.patch("/api/v1/me/preferences", json={"sound_enabled": False}, headers=headers)
    assert r.status_code == 200
    assert r.json == {"sound_enabled": False, "push_channels": []}
    body = {"push_channels": ["wechat", "sms", "wechat"]}
    r = client.patch("/api/v1/me/preferences", json=body, headers=headers)
    assert r.json == {"sound_enabled": False, "push_channels": ["wechat", "sms"]}
    assert client.get("/api/v1/me/preferences", headers=headers).json == r.json


def test_preferences_patch_refused_when_channel_unknown(client, make, login):
    member = make.member()
    body = {"push_channels": ["email"]}
    r = client.patch("/api/v1/me/preferences", json=body, headers=login(member))
    assert r.status_code == 422
    assert r.json["errors"]["push_channels"] == {"0": ["推送渠道只能是微信、支付宝或短信"]}


def test_preferences_patch_refused_when_body_empty(client, make, login):
    member = make.member()
    r = client.patch("/api/v1/me/preferences", json={}, headers=login(member))
    assert r.status_code == 422


def test_disable_online_access_kills_live_tokens_when_centre_switches_off(
    client, runtime, make, session
):
    member = make.member(password=PASSWORD)
    r = log_in(client, runtime, member.plain_id_number)
    assert disable_online_access(runtime, session, member.id) == 1
    # dead in Redis at once, not only refused when next presented
    store = token_store(runtime)
    assert store.resolve(r.json["access_token"]) is None
    assert store.rotate(r.json["refresh_token"]) is None
    assert client.get("/api/v1/me", headers=bearer(r)).status_code == 401
    refresh = {"refresh_token": r.json["refresh_token"]}
    assert client.post("/api/v1/sessions/refresh", json=refresh).status_code == 401
    # the password door answers like a wrong password (the member is told why by SMS)
    assert log_in(client, runtime, member.plain_id_number).json["error_code"] == (
        "auth.invalid_credentials"
    )
    actions = session.scalars(select(AuditEvent.action)).all()
    assert "member.access_disabled" in actions


def test_cli_disables_and_enables_member_when_given_account_no(client, runtime, make, session):
    member = make.member(password=PASSWORD)
    account_no = session.scalars(
        select(FundAccount.account_no).where(FundAccount.member_id == member.id)
    ).one()
    r = log_in(client, runtime, member.plain_id_number)
    ctx = Context()
    ctx._settings, ctx._runtime = runtime.settings, runtime
    runner = CliRunner()
    out = runner.invoke(cli, ["members", "disable", account_no], obj=ctx)
    assert out.exit_code == 0, out.output
    assert "1 session(s) ended" in out.output
    assert client.get("/api/v1/me", headers=bearer(r)).status_code == 401
    session.expire_all()
    assert session.get(Member, member.id).online_access is False
    out = runner.invoke(cli, ["members", "enable", account_no], obj=ctx)
    assert out.exit_code == 0, out.output
    assert log_in(client, runtime, member.plain_id_number).status_code == 201
    missing = runner.invoke(cli, ["members", "disable", "000"], obj=ctx)
    assert missing.exit_code != 0


def test_transaction_code_sent_to_reserved_phone_when_logged_in(client, runtime, make, login):
    member = make.member()
    r = client.post("/api/v1/sms-codes/transaction", headers=login(member))
    assert r.status_code == 202
    assert r.json == {"resend_after": 60, "expires_in": 300, "masked_phone": member.phone_masked}
    assert len(last_code(runtime, member.plain_phone, "transaction")) == 6


def test_transaction_code_refused_when_no_reserved_phone(client, make, login):
    member = make.member(phone=None)
    r = client.post("/api/v1/sms-codes/transaction", headers=login(member))
    assert r.status_code == 403
    assert r.json["error_code"] == "stepup.no_reserved_phone"
