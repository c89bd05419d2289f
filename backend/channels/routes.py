"""HTTP layer of the channels feature: Alipay / WeChat login and binding, the member's bindings."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.api import Blueprint, db, runtime
from backend.auth import current_member_id, member_view, origin
from backend.channels import alipay, bindings, certification, wechat
from backend.channels.models import CHANNELS
from backend.channels.schemas import (
    AlipayCertificationArgs,
    AlipaySessionArgs,
    BindingListSchema,
    CertificationSchema,
    WeChatBindingArgs,
    WeChatSessionArgs,
)
from backend.clock import to_local
from backend.identity.schemas import SessionSchema, session_body
from backend.pagination import Page

blp = Blueprint("channels", __name__, url_prefix="/api/v1", description="支付宝、微信登录与绑定")


@blp.route("/channels/alipay/sessions")
class AlipaySessions(MethodView):
    @blp.arguments(AlipaySessionArgs)
    @blp.response(201, SessionSchema)
    @blp.alt_response(401, description="Auth code invalid, expired or already used")
    @blp.alt_response(
        403,
        description="alipay.certification_required (with certification_token: start face "
        "verification), alipay.not_certified, alipay.member_not_found, auth.access_disabled",
    )
    @blp.alt_response(503, description="Alipay unavailable")
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Log in with Alipay (my.getAuthCode, scope auth_user), binding by real name"""
        rt = runtime()
        started = alipay.alipay_login(
            rt, db(), rt.channels, auth_code=args["auth_code"], origin=origin()
        )
        return session_body(started)


@blp.route("/channels/alipay/certifications")
class AlipayCertifications(MethodView):
    @blp.arguments(AlipayCertificationArgs)
    @blp.response(201, CertificationSchema)
    @blp.alt_response(401, description="Certification token expired")
    @blp.alt_response(403, description="No member with that name and ID number")
    def post(self, args: dict[str, Any]) -> certification.CertificationStarted:
        """Start Alipay face verification after Alipay withheld the ID number"""
        rt = runtime()
        return certification.start_alipay_certification(
            rt,
            db(),
            rt.channels,
            certification_token=args["certification_token"],
            name=args["name"],
            id_number=args["id_number"],
            origin=origin(),
        )


@blp.route("/channels/alipay/certifications/<certify_id>/result")
class AlipayCertificationResult(MethodView):
    @blp.response(201, SessionSchema)
    @blp.alt_response(403, description="Face verification failed")
    @blp.alt_response(404, description="Unknown or expired certification")
    @blp.alt_response(409, description="Face verification not finished yet")
    def post(self, certify_id: str) -> dict[str, Any]:
        """Finish Alipay face verification: bind and log in when it passed"""
        rt = runtime()
        started = certification.finish_alipay_certification(
            rt, db(), rt.channels, certify_id=certify_id, origin=origin()
        )
        return session_body(started)


@blp.route("/channels/wechat/sessions")
class WeChatSessions(MethodView):
    @blp.arguments(WeChatSessionArgs)
    @blp.response(201, SessionSchema)
    @blp.alt_response(401, description="Login code invalid or already used")
    @blp.alt_response(403, description="wechat.binding_required, with binding_token and expires_in")
    @blp.alt_response(503, description="WeChat unavailable")
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Log in with WeChat (wx.login code)"""
        rt = runtime()
        started = wechat.wechat_login(rt, db(), rt.channels, code=args["code"], origin=origin())
        return session_body(started)


@blp.route("/channels/wechat/bindings")
class WeChatBindings(MethodView):
    @blp.arguments(WeChatBindingArgs)
    @blp.response(201, SessionSchema)
    @blp.alt_response(401, description="Binding token expired, or wrong ID number/password")
    @blp.alt_response(403, description="The phone is not a member's reserved phone")
    @blp.alt_response(409, description="The phone is reserved by several members")
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Bind WeChat by reserved phone (getPhoneNumber code) or ID number + password"""
        rt = runtime()
        started = wechat.wechat_bind(
            rt,
            db(),
            rt.channels,
            binding_token=args["binding_token"],
            phone_code=args.get("phone_code"),
            id_number=args.get("id_number"),
            password=args.get("password"),
            origin=origin(),
        )
        return session_body(started)


@blp.route("/me/channel-bindings")
class ChannelBindings(MethodView):
    @member_view(blp)
    @blp.response(200, BindingListSchema)
    def get(self) -> Page[Any]:
        """The member's Alipay / WeChat bindings"""
        items = [
            {
                "channel": b.channel,
                "channel_name": CHANNELS.get(b.channel, b.channel),
                "account": bindings.mask_open_id(b.open_id),
                "bound_at": to_local(b.created_at),
            }
            for b in bindings.bindings(db(), current_member_id())
        ]
        return Page(items)


@blp.route("/me/channel-bindings/<channel>")
class ChannelBinding(MethodView):
    @member_view(blp)
    @blp.response(204)
    @blp.alt_response(404, description="Not bound on that channel")
    def delete(self, channel: str) -> None:
        """Unbind a channel (alipay or wechat)"""
        bindings.unbind(db(), current_member_id(), channel, origin=origin())
