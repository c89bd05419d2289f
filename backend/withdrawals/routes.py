"""HTTP layer of the monthly rent withdrawal (按月提取 / 租房委托提取)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from backend.api import Blueprint, db, runtime, stored_answer
from backend.auth import current_member, current_member_id, member_view, origin
from backend.idempotency.schemas import REPLAY_HEADER, IdempotencyHeaderSchema
from backend.withdrawals import arrangements
from backend.withdrawals.schemas import (
    ArrangementEligibilitySchema,
    ArrangementInSchema,
    ArrangementListSchema,
    ArrangementSchema,
)

blp = Blueprint(
    "rent_arrangements",
    __name__,
    url_prefix="/api/v1/withdrawals/rent-arrangements",
    description="租房按月提取（委托提取）",
)


@blp.route("/eligibility")
class ArrangementEligibilityView(MethodView):
    @member_view(blp)
    @blp.response(200, ArrangementEligibilitySchema)
    @blp.alt_response(404, description="fund.account_missing")
    def get(self) -> Any:
        """能否办理按月提取、每月限额与条件"""
        return arrangements.eligibility(db(), runtime(), current_member_id())


@blp.route("")
class ArrangementsView(MethodView):
    @member_view(blp)
    @blp.response(200, ArrangementListSchema)
    def get(self) -> Any:
        """我的按月提取委托（新的在前），含每月提取记录"""
        return {"items": arrangements.list_arrangements(db(), current_member_id())}

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
        answer = arrangements.sign_up(
            db(),
            runtime(),
            current_member(),
            request,
            idempotency_key=headers["idempotency_key"],
            origin=origin(),
            serialize=ArrangementSchema().dump,
        )
        return stored_answer(answer, replay_header=REPLAY_HEADER)


@blp.route("/<string:arrangement_no>")
class ArrangementView(MethodView):
    @member_view(blp)
    @blp.response(200, ArrangementSchema)
    @blp.alt_response(404, description="withdrawal.rent_arrangement_not_found")
    def get(self, arrangement_no: str) -> Any:
        """一项按月提取委托及每月提取记录"""
        return arrangements.get_arrangement(db(), current_member_id(), arrangement_no)


@blp.route("/<string:arrangement_no>/stop")
class ArrangementStopView(MethodView):
    @member_view(blp)
    @blp.response(200, ArrangementSchema)
    @blp.alt_response(404, description="withdrawal.rent_arrangement_not_found")
    def post(self, arrangement_no: str) -> Any:
        """终止按月提取委托（已终止的再终止不变）"""
        return arrangements.stop(db(), current_member_id(), arrangement_no, origin=origin())
