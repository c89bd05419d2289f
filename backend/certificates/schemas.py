"""Marshmallow shapes of certificates: the answer to issuing one (any kind) and the public
verification."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from backend.fields import LocalDateTime


class CertificateIssuedSchema(ma.Schema):
    serial_no = fields.String()
    kind = fields.String(metadata={"description": "deposit | loan_settlement"})
    verification_code = fields.String()
    issued_at = LocalDateTime()
    valid_until = LocalDateTime()
    pdf_url = fields.String()


class VerifyArgsSchema(ma.Schema):
    code = fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=32),
        metadata={"description": "verification code printed on the certificate"},
    )


class CertificateVerificationSchema(ma.Schema):
    serial_no = fields.String()
    kind = fields.String(metadata={"description": "deposit | loan_settlement"})
    kind_name = fields.String(metadata={"description": "缴存证明 / 贷款结清证明"})
    status = fields.String(metadata={"description": "valid | void | expired"})
    status_name = fields.String()
    issued_at = LocalDateTime()
    valid_until = LocalDateTime()
    voided_at = LocalDateTime(allow_none=True)
    name = fields.String(metadata={"description": "masked: surname only"})
    id_number_masked = fields.String()
    employer_name = fields.String(
        metadata={"description": "deposit fields: absent for a loan_settlement"}
    )
    account_no = fields.String()
    account_status = fields.String()
    account_status_name = fields.String()
    deposit_base = fields.String()
    monthly_amount = fields.String()
    deposit_from = fields.String(metadata={"description": "opened on"})
    paid_through = fields.String(allow_none=True)
    balance = fields.String()
    contract_no = fields.String(metadata={"description": "loan_settlement: 借款合同编号"})
    loan_amount = fields.String(metadata={"description": "loan_settlement: 贷款金额"})
    term_months = fields.Integer(metadata={"description": "loan_settlement: 贷款期限（月）"})
    disbursed_on = fields.String(metadata={"description": "loan_settlement: 放款日期"})
    settled_on = fields.String(metadata={"description": "loan_settlement: 结清日期"})
    bank_name = fields.String(metadata={"description": "loan_settlement: 承办银行"})
    centre_name = fields.String()
    content_hash = fields.String()
