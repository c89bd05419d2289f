"""HTTP layer of the fund feature: 缴存支取信息 and 缴存证明 (with its public verification)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from backend.api import Blueprint, db, runtime
from backend.auth import current_member, current_member_id, member_view, origin
from backend.certificates import services as certificates
from backend.certificates.schemas import (
    CertificateIssuedSchema,
    CertificateVerificationSchema,
    VerifyArgsSchema,
)
from backend.fund import services
from backend.fund.schemas import FundAccountSchema, TransactionArgsSchema, TransactionPageSchema

blp = Blueprint("fund", __name__, url_prefix="/api/v1", description="缴存支取信息与缴存证明")


@blp.route("/fund/account")
class FundAccountView(MethodView):
    @member_view(blp)
    @blp.response(200, FundAccountSchema)
    @blp.alt_response(404, description="fund.account_missing")
    def get(self) -> services.AccountHeader:
        """缴存支取信息：账户、状态、余额、基数、比例、月缴存额、缴至年月、单位"""
        return services.account_header(db(), current_member_id())


@blp.route("/fund/transactions")
class FundTransactionsView(MethodView):
    @member_view(blp)
    @blp.arguments(TransactionArgsSchema, location="query")
    @blp.response(200, TransactionPageSchema)
    @blp.alt_response(422, description="fund.range_reversed, fund.range_too_long")
    def get(self, args: dict[str, Any]) -> services.TransactionPage:
        """缴存支取明细：日期范围内（含两端，默认近 12 个月，最长 5 年），新的在前"""
        return services.transactions(
            db(),
            current_member_id(),
            args["start"],
            args["end"],
            cursor=args["cursor"],
            limit=args["limit"],
        )


@blp.route("/fund/certificates")
class CertificatesView(MethodView):
    @member_view(blp)
    @blp.response(201, CertificateIssuedSchema)
    @blp.alt_response(404, description="fund.account_missing")
    @blp.alt_response(503, description="certificate.font_unavailable")
    def post(self) -> dict[str, Any]:
        """开具缴存证明（重新开具时原证明作废）"""
        rt = runtime()
        cert = certificates.issue_certificate(db(), rt.settings, current_member(), origin())
        return certificates.issued_certificate(rt.settings, cert)


PDF_RESPONSE = {
    200: {
        "description": "the certificate",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@blp.route("/fund/certificates/<string:serial_no>/pdf")
class CertificatePdfView(MethodView):
    @member_view(blp)
    @blp.doc(responses=PDF_RESPONSE)
    @blp.alt_response(404, description="certificate.not_found")
    @blp.alt_response(410, description="certificate.voided")
    def get(self, serial_no: str) -> Response:
        """证明 PDF：缴存证明或贷款结清证明（仅本人）"""
        pdf = certificates.certificate_pdf(db(), runtime().settings, current_member_id(), serial_no)
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{serial_no}.pdf"'},
        )


@blp.route("/public/certificates/<string:serial_no>")
class CertificateVerificationView(MethodView):
    @blp.arguments(VerifyArgsSchema, location="query")
    @blp.response(200, CertificateVerificationSchema)
    @blp.alt_response(404, description="certificate.not_found")
    @blp.alt_response(429, description="certificate.verify_rate_limited")
    def get(self, args: dict[str, Any], serial_no: str) -> dict[str, Any]:
        """证明核验：缴存证明或贷款结清证明（银行、单位等第三方，无需登录）"""
        rt = runtime()
        verification = certificates.verify_certificate(
            db(), rt.redis, rt.keys, serial_no, args["code"], origin().ip
        )
        return certificates.public_view(verification)
