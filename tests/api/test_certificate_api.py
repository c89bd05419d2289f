"""缴存证明: issue, PDF content and rendering, third-party verification."""

import datetime as dt
import io
import re
from unittest import mock

import pypdfium2
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.certificates.models import Certificate
from backend.certificates.pdf import find_cjk_font
from backend.certificates.services import CODE_ALPHABET, VERIFY_LIMIT, content_hash
from backend.ratelimit import GC_SLACK

try:
    find_cjk_font()
    HAVE_FONT = True
except Exception:
    HAVE_FONT = False

needs_font = pytest.mark.skipif(
    not HAVE_FONT, reason="no TrueType CJK font (install fonts-wqy-zenhei: scripts/system-deps.sh)"
)


@pytest.fixture
def holder(make):
    employer = make.employer("示范市第一建筑有限公司")
    return make.member(name="欧阳明华", balance="45678.90", employer=employer)


def issue(client, headers):
    r = client.post("/api/v1/fund/certificates", headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "".join(page.extract_text() for page in reader.pages)


@needs_font
def test_issue_answers_serial_code_validity_and_pdf_url_when_requested(
    client, make, login, holder, session, runtime, clock
):
    now = dt.datetime(2026, 11, 5, 2, 30, tzinfo=dt.UTC)
    clock.set(now)
    body = issue(client, login(holder))
    assert re.fullmatch(r"JC20261105-\d{10}", body["serial_no"])
    code = body["verification_code"]
    assert len(code) >= 8 and set(code) <= set(CODE_ALPHABET)
    assert not set(code) & set("0O1IL")
    assert body["issued_at"] == "2026-11-05T10:30:00+08:00"
    assert body["valid_until"] == "2026-12-05T10:30:00+08:00"  # certificate_valid_days = 30
    assert body["pdf_url"] == (
        f"{runtime.settings.public_url}/api/v1/fund/certificates/{body['serial_no']}/pdf"
    )
    cert = session.scalars(select(Certificate).filter_by(serial_no=body["serial_no"])).one()
    assert cert.snapshot["balance"] == "45678.90"
    assert cert.snapshot["name"] == "欧阳明华"
    assert cert.content_hash == content_hash(cert.snapshot)
    events = session.scalars(select(AuditEvent).filter_by(action="certificate.issue")).all()
    assert len(events) == 1 and events[0].member_id == holder.id


@needs_font
def test_codes_differ_when_issued_twice(client, login, holder):
    headers = login(holder)
    first, second = issue(client, headers), issue(client, headers)
    assert first["serial_no"] != second["serial_no"]
    assert first["verification_code"] != second["verification_code"]


@needs_font
def test_pdf_prints_the_certified_figures_when_downloaded(client, login, holder, session, runtime):
    headers = login(holder)
    body = issue(client, headers)
    r = client.get(f"/api/v1/fund/certificates/{body['serial_no']}/pdf", headers=headers)
    assert r.status_code == 200
    assert r.mimetype == "application/pdf" and r.data.startswith(b"%PDF-")
    text = pdf_text(r.data)
    for expected in (
        "住房公积金缴存证明",
        "欧阳明华",
        holder.id_number_masked,
        "示范市第一建筑有限公司",
        "正常",
        "8000.00元",  # deposit base
        "1920.00元",  # monthly amount
        "2018-03-01 至 2026-10",  # deposit period: opened → paid through
        "45678.90元",
        runtime.settings.centre_name,
        body["serial_no"],
        body["verification_code"],
    ):
        assert expected in text, expected
    cert = session.scalars(select(Certificate).filter_by(serial_no=body["serial_no"])).one()
    assert cert.snapshot["account_no"] in text
    assert holder.plain_id_number not in text  # only the masked ID is printed


@needs_font
def test_pdf_embeds_the_cjk_font_when_rendered(client, login, holder):
    headers = login(holder)
    body = issue(client, headers)
    data = client.get(f"/api/v1/fund/certificates/{body['serial_no']}/pdf", headers=headers).data
    reader = PdfReader(io.BytesIO(data))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    fonts = [f.get_object() for f in fonts.values()]
    assert fonts and all("/FontDescriptor" in f for f in fonts)  # no unembedded base-14 font
    assert all("/FontFile2" in f["/FontDescriptor"] for f in fonts)  # TrueType outlines


@needs_font
def test_pdf_page_renders_ink_when_rasterised(client, login, holder):
    headers = login(holder)
    body = issue(client, headers)
    data = client.get(f"/api/v1/fund/certificates/{body['serial_no']}/pdf", headers=headers).data
    pdf = pypdfium2.PdfDocument(data)
    image = pdf[0].render(scale=1).to_pil().convert("L")
    pdf.close()
    width, height = image.size
    pixels = image.load()
    dark = sum(1 for x in range(width) for y in range(height) if pixels[x, y] < 128)
    assert dark > 0.005 * width * height  # text, table and QR code, not a blank page
    # the title band (top 15% of the page) carries ink: the CJK title rendered
    title_band = sum(
        1 for x in range(width) for y in range(int(height * 0.15)) if pixels[x, y] < 128
    )
    assert title_band > 50


@needs_font
def test_pdf_is_404_when_someone_else_asks(client, make, login, holder):
    body = issue(client, login(holder))
    stranger = make.member()
    r = client.get(f"/api/v1/fund/certificates/{body['serial_no']}/pdf", headers=login(stranger))
    assert r.status_code == 404 and r.json["error_code"] == "certificate.not_found"
    r = client.get("/api/v1/fund/certificates/JC000/pdf", headers=login(stranger))
    assert r.status_code == 404 and r.json["error_code"] == "certificate.not_found"


@needs_font
def test_pdf_of_previous_certificate_is_gone_when_reissued(client, login, holder):
    headers = login(holder)
    first = issue(client, headers)
    issue(client, headers)
    r = client.get(f"/api/v1/fund/certificates/{first['serial_no']}/pdf", headers=headers)
    assert r.status_code == 410 and r.json["error_code"] == "certificate.voided"


def test_issue_refuses_with_503_when_no_cjk_font(client, login, holder, runtime, session):
    runtime.settings = runtime.settings.with_(certificate_font="/nonexistent/font.ttf")
    r = client.post("/api/v1/fund/certificates", headers=login(holder))
    assert r.status_code == 503
    assert r.json["error_code"] == "certificate.font_unavailable"
    assert "字体" in r.json["message"]
    assert session.scalars(select(Certificate)).all() == []


def test_issue_refuses_with_503_when_font_has_no_chinese_glyphs(client, login, holder, runtime):
    latin = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    if not __import__("os").path.exists(latin):
        pytest.skip("DejaVuSans not installed")
    runtime.settings = runtime.settings.with_(certificate_font=latin)
    r = client.post("/api/v1/fund/certificates", headers=login(holder))
    assert r.status_code == 503 and r.json["error_code"] == "certificate.font_unavailable"


def test_issue_is_404_when_member_has_no_account(client, make, login):
    member = make.member(account=False)
    r = client.post("/api/v1/fund/certificates", headers=login(member))
    # font first (503) or account (404): on a machine with the font it is the account
    assert r.status_code in (404, 503)
    if HAVE_FONT:
        assert r.json["error_code"] == "fund.account_missing"


# --- public verification ---------------------------------------------------------------------


def verify(client, serial, code, ip="203.0.113.7"):
    return client.get(
        f"/api/v1/public/certificates/{serial}?code={code}",
        environ_base={"REMOTE_ADDR": ip},
    )


@needs_font
def test_verification_shows_valid_and_masked_figures_when_code_matches(client, login, holder):
    body = issue(client, login(holder))
    r = verify(client, body["serial_no"], body["verification_code"])
    assert r.status_code == 200
    v = r.json
    assert v["status"] == "valid" and v["status_name"] == "有效"
    assert v["name"] == "欧***"
    assert v["balance"] == "45678.90" and v["monthly_amount"] == "1920.00"
    assert v["deposit_base"] == "8000.00"
    assert v["employer_name"] == "示范市第一建筑有限公司"
    assert v["deposit_from"] == "2018-03-01" and v["paid_through"] == "2026-10"
    assert v["valid_until"] == body["valid_until"]
    assert "欧阳明华" not in r.get_data(as_text=True)


@needs_font
def test_verification_accepts_lowercase_code_when_typed(client, login, holder):
    body = issue(client, login(holder))
    r = verify(client, body["serial_no"], body["verification_code"].lower())
    assert r.status_code == 200


@needs_font
def test_verification_shows_void_when_reissued(client, login, holder):
    headers = login(holder)
    first = issue(client, headers)
    second = issue(client, headers)
    r = verify(client, first["serial_no"], first["verification_code"])
    assert r.json["status"] == "void" and r.json["status_name"] == "已作废"
    assert r.json["voided_at"] is not None
    assert verify(client, second["serial_no"], second["verification_code"]).json["status"] == (
        "valid"
    )


def issued_on_5_november(clock, client, headers):
    """A certificate issued 2026-11-05 10:00 Beijing time, valid 30 days; → (body, issue time)."""
    now = dt.datetime(2026, 11, 5, 2, 0, tzinfo=dt.UTC)
    clock.set(now)
    return issue(client, headers), now


@needs_font
def test_verification_shows_expired_when_validity_passed(client, login, holder, clock):
    body, now = issued_on_5_november(clock, client, login(holder))
    clock.set(now + dt.timedelta(days=30))
    assert verify(client, body["serial_no"], body["verification_code"]).json["status"] == ("valid")
    clock.set(now + dt.timedelta(days=30, seconds=1))
    r = verify(client, body["serial_no"], body["verification_code"])
    assert r.json["status"] == "expired" and r.json["status_name"] == "已过期"


@needs_font
def test_wrong_code_answers_like_unknown_serial_when_verified(client, login, holder):
    body = issue(client, login(holder))
    wrong = verify(client, body["serial_no"], "ABCDEFGHJK")
    unknown = verify(client, "JC20261105-0000000000", body["verification_code"])
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json == unknown.json
    assert wrong.json["error_code"] == "certificate.not_found"


def test_verification_is_rate_limited_per_address_when_too_many_attempts(client):
    for _ in range(VERIFY_LIMIT):
        assert verify(client, "JC1", "ABCDEFGH").status_code == 404
    r = verify(client, "JC1", "ABCDEFGH")
    assert r.status_code == 429
    assert r.json["error_code"] == "certificate.verify_rate_limited"
    assert "核验次数过多" in r.json["message"]
    assert int(r.headers["Retry-After"]) > 0
    # another address is not affected
    assert verify(client, "JC1", "ABCDEFGH", ip="198.51.100.9").status_code == 404


def test_verification_counter_has_a_ttl_when_counted(client, runtime):
    verify(client, "JC1", "ABCDEFGH")
    key = runtime.keys("rl", "certverify", "203.0.113.7")
    assert 0 < runtime.redis.ttl(key) <= 600 + GC_SLACK


def test_verification_needs_a_code_when_called(client):
    r = client.get("/api/v1/public/certificates/JC1")
    assert r.status_code == 422 and "code" in r.json["errors"]


# --- the verification page the QR code opens ------------------------------------------------------


def page(client, serial, code, ip="203.0.113.8"):
    return client.get(
        f"/verify/certificates/{serial}?code={code}", environ_base={"REMOTE_ADDR": ip}
    )


def visible_text(r):
    return re.sub(r"<[^>]+>", " ", r.get_data(as_text=True))


@needs_font
def test_qr_code_and_link_open_the_page_at_the_public_base_url_when_printed(
    client, login, holder, runtime
):
    runtime.settings = runtime.settings.with_(public_base_url="https://gjj.example.cn/")
    headers = login(holder)
    body = issue(client, headers)
    expected = (
        f"https://gjj.example.cn/verify/certificates/{body['serial_no']}"
        f"?code={body['verification_code']}"
    )
    with mock.patch("backend.certificates.pdf._draw_qr") as draw_qr:
        r = client.get(f"/api/v1/fund/certificates/{body['serial_no']}/pdf", headers=headers)
    assert r.status_code == 200
    assert draw_qr.call_args.args[1] == expected
    assert expected in pdf_text(r.data).replace("\n", "")
    # and the address printed there answers with the page
    opened = page(client, body["serial_no"], body["verification_code"])
    assert opened.status_code == 200 and opened.mimetype == "text/html"


def test_public_url_follows_the_listening_port_when_no_base_url_is_configured():
    from backend.settings import Settings

    assert Settings(port=18431).public_url == "http://127.0.0.1:18431"
    assert Settings(host="0.0.0.0", port=18432).public_url == "http://127.0.0.1:18432"
    assert Settings.from_env({"GJJ_PORT": "18433"}).public_url == "http://127.0.0.1:18433"
    configured = Settings(public_base_url="https://gjj.example.cn/", port=18434)
    assert configured.public_url == "https://gjj.example.cn"


@needs_font
def test_page_shows_valid_with_masked_holder_and_figures_when_code_matches(client, login, holder):
    body = issue(client, login(holder))
    r = page(client, body["serial_no"], body["verification_code"].lower())
    text = visible_text(r)
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    for expected in (
        "有效",
        "欧***",
        holder.id_number_masked,
        "示范市第一建筑有限公司",
        "8000.00 元",
        "1920.00 元",
        "45678.90 元",
        "2026-10",
        body["serial_no"],
    ):
        assert expected in text, expected
    assert "欧阳明华" not in r.get_data(as_text=True)
    assert 'name="viewport"' in r.get_data(as_text=True)


@needs_font
def test_page_uses_no_external_asset_when_rendered(client, login, holder):
    body = issue(client, login(holder))
    r = page(client, body["serial_no"], body["verification_code"])
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and html.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html


@needs_font
def test_page_shows_voided_when_reissued(client, login, holder):
    headers = login(holder)
    first = issue(client, headers)
    issue(client, headers)
    r = page(client, first["serial_no"], first["verification_code"])
    assert r.status_code == 200
    assert "已作废" in visible_text(r) and "有效期至" in visible_text(r)
    assert 'class="state void"' in r.get_data(as_text=True)


@needs_font
def test_page_shows_expired_when_validity_passed(client, login, holder, clock):
    body, now = issued_on_5_november(clock, client, login(holder))
    clock.set(now + dt.timedelta(days=31))
    r = page(client, body["serial_no"], body["verification_code"])
    assert r.status_code == 200 and "已过期" in visible_text(r)
    assert "2026-12-05 10:00" in visible_text(r)  # valid until, Beijing time
    assert 'class="state expired"' in r.get_data(as_text=True)


@needs_font
def test_page_answers_404_page_when_code_wrong(client, login, holder):
    body = issue(client, login(holder))
    r = page(client, body["serial_no"], "ABCDEFGHJK")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "未找到该证明，请核对证明编号和验证码" in visible_text(r)
    assert "45678.90" not in visible_text(r)


def test_page_asks_for_the_code_when_missing(client):
    r = client.get("/verify/certificates/JC1")
    assert r.status_code == 200 and "请输入证明上的验证码" in visible_text(r)


def test_page_is_rate_limited_like_the_api_when_too_many_attempts(client):
    for _ in range(VERIFY_LIMIT):
        assert page(client, "JC1", "ABCDEFGH").status_code == 404
    r = page(client, "JC1", "ABCDEFGH")
    assert r.status_code == 429 and "核验次数过多" in visible_text(r)
    assert int(r.headers["Retry-After"]) > 0
