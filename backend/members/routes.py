"""HTTP layer of the members feature: the member's own information and preferences."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.accounts.models import ACCOUNT_STATUS
from backend.api import Blueprint, db
from backend.auth import current_member_id, member_view, origin
from backend.members import queries, services
from backend.members.access import access_disabled
from backend.members.schemas import PreferencesPatchSchema, PreferencesSchema, ProfileSchema

blp = Blueprint("members", __name__, url_prefix="/api/v1", description="个人基本信息与偏好")


@blp.route("/me")
class Me(MethodView):
    @member_view(blp)
    @blp.response(200, ProfileSchema)
    def get(self) -> Any:
        """Customer and account information (个人基本信息)

        ID number and phone are masked; `account` is null for a member without a fund account."""
        p = queries.profile(db(), current_member_id())
        if p is None:
            raise access_disabled(status_code=401)
        employer = (
            None
            if p.employer_id is None
            else {"name": p.employer_name, "unit_account_no": p.unit_account_no}
        )
        return {
            "name": p.name,
            "masked_id_number": p.id_number_masked,
            "masked_phone": p.phone_masked,
            "registered_at": p.registered_at,
            "account": None
            if p.account_id is None
            else {
                "account_no": p.account_no,
                "status": p.status,
                "status_name": ACCOUNT_STATUS.get(p.status, p.status),
                "balance": p.balance,
                "opened_on": p.opened_on,
            },
            "employer": employer,
            "employer_name": p.employer_name,
        }


def _preferences(member_id: int) -> dict[str, Any]:
    preference = queries.preference(db(), member_id)
    if preference is None:
        return {"sound_enabled": True, "push_channels": []}
    return {"sound_enabled": preference.sound_enabled, "push_channels": preference.push_channels}


@blp.route("/me/preferences")
class MyPreferences(MethodView):
    @member_view(blp)
    @blp.response(200, PreferencesSchema)
    def get(self) -> Any:
        """Sound and push-channel preferences"""
        return _preferences(current_member_id())

    @member_view(blp)
    @blp.arguments(PreferencesPatchSchema)
    @blp.response(200, PreferencesSchema)
    @blp.alt_response(422, description="Unknown channel or empty change")
    def patch(self, body: dict[str, Any]) -> Any:
        """Change preferences (关闭音效, push channels)

        `push_channels` is a subset of wechat, alipay, sms; fields left out stay as they are."""
        member_id = current_member_id()
        services.update_preferences(
            db(),
            member_id,
            sound_enabled=body.get("sound_enabled"),
            push_channels=body.get("push_channels"),
            origin=origin(),
        )
        return _preferences(member_id)
