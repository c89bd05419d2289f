"""HTTP layer of the loans feature: schema in → service → schema out."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView

from backend.api import Blueprint, db, runtime
from backend.auth import current_member, current_member_id, member_view, money_request, origin
from backend.certificates import services as certificates
from backend.certificates.schemas import CertificateIssuedSchema
from backend.clock import today
from backend.dumping import compiled_dump
from backend.idempotency.schemas import IdempotencyHeaderSchema
from backend.loans import calculator, loan_applications, prepayments, services, settlement
from backend.loans.models import LoanContract, LoanPrepayment, LoanRepayment
from backend.loans.schemas import (
    LoanApplicationRequestSchema,
    LoanApplicationSchema,
    LoanCalculatorArgsSchema,
    LoanCalculatorSchema,
    LoanInfoSchema,
    LoanListSchema,
    LoanPlanSchema,
    LoanProgressSchema,
    LoanQuotaArgsSchema,
    LoanQuotaSchema,
    LoanRepaymentArgsSchema,
    LoanRepaymentListSchema,
    PrepaymentListSchema,
    PrepaymentQuoteRequestSchema,
    PrepaymentQuoteSchema,
    PrepaymentRequestSchema,
    PrepaymentSchema,
)
from backend.pagination import Page, PageArgsSchema

blp = Blueprint(
    "loans",
    __name__,
    url_prefix="/api/v1",
    description="贷款：合同、进度、信息、还款明细与计划、提前还款、结清证明、计算器、申请",
)

NOT_FOUND = "The contract does not exist or is another member's (loan.not_found)"


@blp.route("/loans")
class Loans(MethodView):
    @member_view(blp)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, LoanListSchema)
    def get(self, args: dict[str, Any]) -> Page[LoanContract]:
        """The member's loan contracts (借款合同)"""
        return services.list_loans(
            db(), current_member_id(), cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/loans/<string:contract_no>")
class LoanInfo(MethodView):
    @member_view(blp)
    @blp.response(200, LoanInfoSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def get(self, contract_no: str) -> Response:
        """贷款信息: amounts, rate, monthly payment, balance, next due"""
        # The body is LoanInfoSchema's dump, formatted here and kept for the day by the service.
        plans = runtime().loan_plans
        body = services.loan_info(
            db(), plans, current_member_id(), contract_no, today(), render=_loan_info_json
        )
        return Response(body, mimetype="application/json")


_dump_loan_info = compiled_dump(LoanInfoSchema())


def _loan_info_json(info: services.LoanInfo) -> str:
    return current_app.json.dumps(_dump_loan_info(info))


@blp.route("/loans/<string:contract_no>/progress")
class LoanProgress(MethodView):
    @member_view(blp)
    @blp.response(200, LoanProgressSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def get(self, contract_no: str) -> services.LoanProgress:
        """贷款进度: the approval nodes, done / current / pending"""
        return services.loan_progress(db(), current_member_id(), contract_no)


@blp.route("/loans/<string:contract_no>/repayments")
class LoanRepayments(MethodView):
    @member_view(blp)
    @blp.arguments(LoanRepaymentArgsSchema, location="query")
    @blp.response(200, LoanRepaymentListSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    @blp.alt_response(422, description="Bad date range or cursor")
    def get(self, args: dict[str, Any], contract_no: str) -> Page[LoanRepayment]:
        """还款明细: repayments actually made, newest first"""
        return services.list_repayments(
            db(),
            current_member_id(),
            contract_no,
            start=args["start"],
            end=args["end"],
            cursor=args["cursor"],
            limit=args["limit"],
        )


@blp.route("/loans/<string:contract_no>/schedule")
class LoanSchedule(MethodView):
    @member_view(blp)
    @blp.response(200, LoanPlanSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def get(self, contract_no: str) -> Response:
        """还款计划: every period, paid ones marked, with totals"""
        # The body comes formatted (and usually cached): LoanPlanSchema documents it, tests check
        # that it is what the schema would dump.
        plans = runtime().loan_plans
        body = services.repayment_plan(db(), plans, current_member_id(), contract_no)
        return Response(body, mimetype="application/json")


@blp.route("/loans/<string:contract_no>/prepayment-quotes")
class PrepaymentQuotes(MethodView):
    @member_view(blp)
    @blp.arguments(PrepaymentQuoteRequestSchema)
    @blp.response(200, PrepaymentQuoteSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    @blp.alt_response(
        422,
        description="Refused (loan.prepayment_deduction_window, loan.prepayment_overdue, "
        "loan.settled, loan.not_disbursed) or a bad amount",
    )
    def post(self, body: dict[str, Any], contract_no: str) -> prepayments.ContractQuote:
        """提前还款试算: partial (shorten term / reduce instalment) or full"""
        return prepayments.quote_prepayment(
            db(),
            runtime().settings,
            current_member_id(),
            contract_no,
            kind=body["kind"],
            option=body["option"],
            amount=body["amount"],
            today=today(),
        )


@blp.route("/loans/<string:contract_no>/prepayments")
class Prepayments(MethodView):
    @member_view(blp)
    @blp.response(200, PrepaymentListSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def get(self, contract_no: str) -> Page[LoanPrepayment]:
        """提前还款申请：本合同的预约记录（待中心确认 / 已办理 / 未通过），新的在前"""
        return prepayments.list_prepayments(db(), current_member_id(), contract_no)

    @member_view(blp)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.arguments(PrepaymentRequestSchema)
    @blp.response(201, PrepaymentSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    @blp.alt_response(
        409, description="loan.prepayment_pending (one per contract), idempotency.key_reused"
    )
    @blp.alt_response(
        422,
        description="loan.prepayment_date_not_future, loan.prepayment_date_too_late, "
        "loan.prepayment_deduction_window, loan.prepayment_before_first_instalment, "
        "loan.prepayment_overdue, loan.settled, loan.not_disbursed, amount refusals, sms.code_*",
    )
    def post(self, headers: dict[str, Any], body: dict[str, Any], contract_no: str) -> Any:
        """预约提前还款（部分：缩短期限或减少月供；全部）：短信验证码与 Idempotency-Key，中心确认后生效"""
        return money_request(
            prepayments.book_prepayment,
            contract_no,
            body,
            headers=headers,
            schema=PrepaymentSchema,
            today=today(),
            serialize_quote=PrepaymentQuoteSchema().dump,
        )


@blp.route("/loans/<string:contract_no>/settlement-certificates")
class SettlementCertificates(MethodView):
    @member_view(blp)
    @blp.response(201, CertificateIssuedSchema)
    @blp.alt_response(404, description=NOT_FOUND + "; fund.account_missing")
    @blp.alt_response(409, description="The loan is not settled (loan.not_settled)")
    @blp.alt_response(503, description="certificate.font_unavailable")
    def post(self, contract_no: str) -> dict[str, Any]:
        """开具贷款结清证明（仅已结清的本人合同；重新开具时原证明作废）"""
        rt = runtime()
        cert = settlement.issue_settlement_certificate(
            db(), rt.settings, current_member(), contract_no, origin()
        )
        return certificates.issued_certificate(rt.settings, cert)


@blp.route("/loan-calculator")
class LoanCalculator(MethodView):
    @blp.arguments(LoanCalculatorArgsSchema, location="query")
    @blp.response(200, LoanCalculatorSchema)
    @blp.alt_response(422, description="Out of bounds: principal, months, annual_rate, method")
    def get(self, args: dict[str, Any]) -> calculator.Calculation:
        """贷款计算器 (public): totals and the full schedule"""
        return calculator.calculate(
            args["principal"], args["months"], args["annual_rate"], args["method"], today=today()
        )


@blp.route("/loan-applications/quota")
class LoanQuota(MethodView):
    @member_view(blp)
    @blp.arguments(LoanQuotaArgsSchema, location="query")
    @blp.response(200, LoanQuotaSchema)
    @blp.alt_response(422, description="term_months out of 1–360")
    def get(self, args: dict[str, Any]) -> loan_applications.LoanQuota:
        """可贷额度与利率: what a loan application would get, shown before submitting"""
        return loan_applications.loan_quota(
            db(),
            runtime().settings,
            current_member_id(),
            months=args["term_months"],
            first_home=args["first_home"],
            today=today(),
        )


@blp.route("/loan-applications")
class LoanApplications(MethodView):
    @member_view(blp)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.arguments(LoanApplicationRequestSchema)
    @blp.response(201, LoanApplicationSchema)
    @blp.alt_response(409, description="Open loan or application, or Idempotency-Key reused")
    @blp.alt_response(422, description="Eligibility, bounds, SMS code or Idempotency-Key missing")
    def post(self, headers: dict[str, Any], body: dict[str, Any]) -> Any:
        """贷款申请: step-up SMS code and Idempotency-Key; a replay returns the first answer"""
        return money_request(
            loan_applications.apply_for_loan,
            body,
            headers=headers,
            schema=LoanApplicationSchema,
            today=today(),
        )
