"""HTTP layer of withdrawals: 提取申请 (eligibility, submission) and the monthly rent withdrawal
(按月提取 / 租房委托提取)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from backend.api import Blueprint, db, runtime
from backend.auth import current_member_id, member_view, money_request, origin
from backend.idempotency.schemas import IdempotencyHeaderSchema
from backend.withdrawals import arrangements, services
from backend.withdrawals.schemas import (
    ArrangementEligibilitySchema,
    ArrangementInSchema,
    ArrangementListSchema,
    ArrangementSchema,
    EligibilityArgsSchema,
    EligibilitySchema,
    WithdrawalApplicationSchema,
    WithdrawalInSchema,
)

blp = Blueprint(
    "withdrawals",
    __name__,
    url_prefix="/api/v1/withdrawals",
    description="提取申请与租房按月提取（委托提取）",
)


@blp.route("/eligibility")
class EligibilityView(MethodView):
    @member_view(blp)
    @blp.arguments(EligibilityArgsSchema, location="query")
    @blp.response(200, EligibilitySchema)
    @blp.alt_response(404, description="fund.account_missing")
    @blp.alt_response(422, description="withdrawal.reason_unknown")
    def get(self, args: dict[str, Any]) -> Any:
        """可提取金额与各提取原因的条件"""
        return services.eligibility(db(), runtime(), current_member_id(), args["reason"])


@blp.route("")
class WithdrawalsView(MethodView):
    @member_view(blp)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.arguments(WithdrawalInSchema)
    @blp.response(201, WithdrawalApplicationSchema)
    @blp.alt_response(409, description="withdrawal.* state refusals, idempotency.key_reused")
    @blp.alt_response(422, description="withdrawal.* amount refusals, sms.code_*")
    def post(self, headers: dict[str, Any], body: dict[str, Any]) -> Response:
        """提交提取申请（需短信验证码与 Idempotency-Key）"""
        request = services.WithdrawalRequest(
            reason=body["reason"],
            amount=body["amount"],
            bank_name=body["bank_name"].strip(),
            bank_account=body["bank_account"],
            sms_code=body["sms_code"],
            extra={k: body.get(k) for k in services.DETAIL_FIELDS},
        )
        return money_request(
            services.submit_withdrawal,
            request,
            headers=headers,
            schema=WithdrawalApplicationSchema,
        )


@blp.route("/rent-arrangements/eligibility")
class ArrangementEligibilityView(MethodView):
    @member_view(blp)
    @blp.response(200, ArrangementEligibilitySchema)
    @blp.alt_response(404, description="fund.account_missing")
    def get(self) -> Any:
        """能否办理按月提取、每月限额与条件"""
        return arrangements.eligibility(db(), runtime(), current_member_id())


@blp.route("/rent-arrangements")
class ArrangementsView(MethodView):
    @member_view(blp)
    @blp.response(200, ArrangementListSchema)
    def get(self) -> Any:
        """我的按月提取委托（新的在前），含每月提取记录"""
        return arrangements.list_arrangements(db(), current_member_id())

    @member_view(blp)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.arguments(ArrangementInSchema)
    @blp.response(201, ArrangementSchema)
    @blp.alt_response(404, description="fund.account_missing")
    @blp.alt_response(
        409, description="withdrawal.rent_arrangement_exists and other state refusals"
    )
    @blp.alt_response(422, description="withdrawal.rent_monthly_limit, sms.code_*")
    def post(self, headers: dict[str, Any], body: dict[str, Any]) -> Response:
        """办理按月提取（需短信验证码与 Idempotency-Key）"""
        request = arrangements.ArrangementRequest(
            monthly_amount=body["monthly_amount"],
            bank_name=body["bank_name"].strip(),
            bank_account=body["bank_account"],
            sms_code=body["sms_code"],
        )
        return money_request(
            arrangements.sign_up,
            request,
            headers=headers,
            schema=ArrangementSchema,
        )


@blp.route("/rent-arrangements/<string:arrangement_no>")
class ArrangementView(MethodView):
    @member_view(blp)
    @blp.response(200, ArrangementSchema)
    @blp.alt_response(404, description="withdrawal.rent_arrangement_not_found")
    def get(self, arrangement_no: str) -> Any:
        """一项按月提取委托及每月提取记录"""
        return arrangements.get_arrangement(db(), current_member_id(), arrangement_no)


@blp.route("/rent-arrangements/<string:arrangement_no>/stop")
class ArrangementStopView(MethodView):
    @member_view(blp)
    @blp.response(200, ArrangementSchema)
    @blp.alt_response(404, description="withdrawal.rent_arrangement_not_found")
    def post(self, arrangement_no: str) -> Any:
        """终止按月提取委托（已终止的再终止不变）"""
        return arrangements.stop(db(), current_member_id(), arrangement_no, origin=origin())
