"""贷款结清证明: issued for a settled contract by the one certificate service (serial, code, PDF,
verification page and API, re-issue voids), refused for a loan not settled or not the member's."""

import datetime as dt
import re
from decimal import Decimal

from sqlalchemy import select

from backend.certificates.models import Certificate
from backend.loans.models import LoanRepayment
from backend.pii import mask_name
from tests.api.test_certificate_api import issue as issue_deposit
from tests.api.test_certificate_api import needs_font, page, pdf_text, visible_text


def settled_loan(make, member, contract_no="JK2026000001"):
    loan = make.loan(
        member,
        contract_no=contract_no,
        status="settled",
        balance="0.00",
        amount="120000.00",
        term_months=60,
    )
    loan.disbursed_on = dt.date(2021, 3, 10)
    loan.settled_on = dt.date(2026, 3, 20)
    make.session.add_all(
        [
            LoanRepayment(
                contract_id=loan.id,
                period=1,
                due_date=dt.date(2021, 4, 20),
                paid_on=dt.date(2021, 4, 20),
                principal=Decimal("1800.00"),
                interest=Decimal("260.00"),
                balance_after=Decimal("118200.00"),
                channel="entrusted",
            ),
            LoanRepayment(
                contract_id=loan.id,
                period=2,
                due_date=dt.date(2021, 5, 20),
                paid_on=dt.date(2026, 3, 20),
                principal=Decimal("118200.00"),
                interest=Decimal("140.00"),
                balance_after=Decimal("0.00"),
                channel="self",
            ),
        ]
    )
    make.session.commit()
    return loan


def issue(client, headers, contract_no="JK2026000001"):
    return client.post(f"/api/v1/loans/{contract_no}/settlement-certificates", headers=headers)


def verify(client, serial, code):
    return client.get(f"/api/v1/public/certificates/{serial}?code={code}")


@needs_font
def test_certificate_is_issued_printed_and_verifiable_when_the_loan_is_settled(
    client, make, login, session, runtime
):
    member = make.member(name="欧阳明华", balance="1000.00")
    settled_loan(make, member)
    headers = login(member)
    r = issue(client, headers)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["kind"] == "loan_settlement"
    assert re.fullmatch(r"JQ\d{8}-\d{10}", body["serial_no"])
    assert body["pdf_url"].endswith(f"/api/v1/fund/certificates/{body['serial_no']}/pdf")
    pdf = client.get(f"/api/v1/fund/certificates/{body['serial_no']}/pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    text = pdf_text(pdf.data).replace("\n", "")
    for expected in (
        "住房公积金贷款结清证明",
        "欧阳明华",
        member.id_number_masked,
        "JK2026000001",
        "120000.00元",
        "2026-03-20",
        "2021-03-10",
        "120000.00元",  # principal repaid in total
        "400.00元",  # interest repaid in total
        body["serial_no"],
        body["verification_code"],
    ):
        assert expected in text, expected
    assert member.plain_id_number not in text
    checked = verify(client, body["serial_no"], body["verification_code"])
    assert checked.status_code == 200
    assert checked.json["kind"] == "loan_settlement" and checked.json["kind_name"] == "贷款结清证明"
    assert checked.json["status"] == "valid"
    assert checked.json["contract_no"] == "JK2026000001"
    assert checked.json["settled_on"] == "2026-03-20"
    assert checked.json["name"] == mask_name("欧阳明华")
    assert "balance" not in checked.json  # no deposit figures on a loan certificate
    shown = visible_text(page(client, body["serial_no"], body["verification_code"]))
    assert "贷款结清证明核验" in shown and "JK2026000001" in shown and "2026-03-20" in shown
    cert = session.scalars(select(Certificate).filter_by(serial_no=body["serial_no"])).one()
    assert cert.kind == "loan_settlement" and cert.subject_no == "JK2026000001"


@needs_font
def test_reissue_voids_only_that_contracts_certificate_when_issued_again(client, make, login):
    member = make.member(balance="1000.00")
    settled_loan(make, member)
    headers = login(member)
    deposit = issue_deposit(client, headers)
    first = issue(client, headers).json
    second = issue(client, headers).json
    assert verify(client, first["serial_no"], first["verification_code"]).json["status"] == "void"
    assert verify(client, second["serial_no"], second["verification_code"]).json["status"] == (
        "valid"
    )
    old_pdf = client.get(f"/api/v1/fund/certificates/{first['serial_no']}/pdf", headers=headers)
    assert old_pdf.status_code == 410 and old_pdf.json["error_code"] == "certificate.voided"
    assert "贷款结清证明" in old_pdf.json["message"]
    # the deposit certificate is another kind: still valid
    assert verify(client, deposit["serial_no"], deposit["verification_code"]).json["status"] == (
        "valid"
    )


def test_certificate_is_refused_with_the_status_when_the_loan_is_not_settled(
    client, make, login, session
):
    member = make.member(balance="1000.00")
    make.loan(member, contract_no="JK2026000002", status="repaying")
    r = issue(client, login(member), "JK2026000002")
    assert r.status_code == 409
    assert r.json["error_code"] == "loan.not_settled"
    assert "还款中" in r.json["message"] and "结清" in r.json["message"]
    assert session.scalars(select(Certificate)).all() == []


def test_certificate_is_404_when_the_contract_is_another_members(client, make, login, session):
    owner = make.member(balance="1000.00")
    settled_loan(make, owner)
    stranger = make.member(balance="1000.00")
    r = issue(client, login(stranger))
    assert r.status_code == 404 and r.json["error_code"] == "loan.not_found"
    assert r.json["message"] == "未找到该贷款合同"
    assert session.scalars(select(Certificate)).all() == []


def test_certificate_needs_login_when_anonymous(client):
    r = client.post("/api/v1/loans/JK2026000001/settlement-certificates")
    assert r.status_code == 401
