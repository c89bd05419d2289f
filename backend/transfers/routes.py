"""HTTP layer of the transfer between cities (异地转移接续)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from backend.api import Blueprint, db, runtime
from backend.auth import current_member_id, member_view, money_request
from backend.idempotency.schemas import IdempotencyHeaderSchema
from backend.transfers import services
from backend.transfers.schemas import (
    TransferEligibilitySchema,
    TransferInSchema,
    TransferListSchema,
    TransferSchema,
)

blp = Blueprint("transfers", __name__, url_prefix="/api/v1/transfers", description="异地转移接续")


@blp.route("/eligibility")
class TransferEligibilityView(MethodView):
    @member_view(blp)
    @blp.response(200, TransferEligibilitySchema)
    @blp.alt_response(404, description="fund.account_missing")
    def get(self) -> Any:
        """能否办理转入、转出及原因"""
        return services.eligibility(db(), runtime(), current_member_id())


@blp.route("")
class TransfersView(MethodView):
    @member_view(blp)
    @blp.response(200, TransferListSchema)
    def get(self) -> Any:
        """我的转移接续（新的在前），含办理环节"""
        return services.list_transfers(db(), current_member_id())

    @member_view(blp)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.arguments(TransferInSchema)
    @blp.response(201, TransferSchema)
    @blp.alt_response(404, description="fund.account_missing")
    @blp.alt_response(409, description="transfer.* state refusals, idempotency.key_reused")
    @blp.alt_response(422, description="transfer.same_centre, sms.code_*")
    def post(self, headers: dict[str, Any], body: dict[str, Any]) -> Response:
        """申请转移接续（需短信验证码与 Idempotency-Key）"""
        request = services.TransferRequest(
            direction=body["direction"],
            other_centre=body["other_centre"].strip(),
            other_account_no=body["other_account_no"],
            sms_code=body["sms_code"],
        )
        return money_request(
            services.apply,
            request,
            headers=headers,
            schema=TransferSchema,
        )
