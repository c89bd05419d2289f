"""HTTP layer of the push feature: the member's subscription-message consents."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.api import Blueprint, db, runtime
from backend.auth import current_member_id, member_view, origin
from backend.push import services
from backend.push.schemas import SubscriptionArgs, SubscriptionListSchema, SubscriptionQuery

blp = Blueprint("push", __name__, url_prefix="/api/v1", description="订阅消息授权")


def _listing(member_id: int, channel: str | None) -> dict[str, Any]:
    """Every template of the channel(s), with the member's consent (the mini-program asks
    requestSubscribeMessage for these template ids)."""
    templates = runtime().push_templates
    held = {(c.channel, c.template_id): c for c in services.consents(db(), member_id)}
    items = []
    for ch in [channel] if channel else list(services.APP_CHANNELS):
        by_id: dict[str, list[str]] = {}
        long_term: dict[str, bool] = {}
        for business_type, template in sorted(templates.of_channel(ch).items()):
            by_id.setdefault(template.template_id, []).append(business_type)
            long_term[template.template_id] = template.long_term
        for template_id, types in by_id.items():
            consent = held.get((ch, template_id))
            items.append(
                {
                    "channel": ch,
                    "template_id": template_id,
                    "business_types": types,
                    "long_term": bool(consent and consent.long_term),
                    "remaining": consent.remaining if consent else 0,
                }
            )
    return {"items": items, "next_cursor": None}


@blp.route("/me/subscriptions")
class Subscriptions(MethodView):
    @member_view(blp)
    @blp.arguments(SubscriptionQuery, location="query")
    @blp.response(200, SubscriptionListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The push templates and the member's consent for each"""
        return _listing(current_member_id(), args.get("channel"))

    @member_view(blp)
    @blp.arguments(SubscriptionArgs)
    @blp.response(201, SubscriptionListSchema)
    @blp.alt_response(422, description="Unknown channel, template or result")
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Record what requestSubscribeMessage answered"""
        member_id = current_member_id()
        services.record_consents(
            db(),
            runtime().push_templates,
            member_id,
            args["channel"],
            args["results"],
            origin=origin(),
        )
        return _listing(member_id, args["channel"])
