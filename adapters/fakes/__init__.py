"""Loopback fakes of the Alipay gateway and the WeChat API that speak the real wire protocols."""

from adapters.fakes.alipay_gateway import AlipayUser, FakeAlipayGateway
from adapters.fakes.server import AdminError, LoopbackServer
from adapters.fakes.wechat_api import FakeWeChatApi, WeChatUser

__all__ = [
    "AdminError",
    "AlipayUser",
    "FakeAlipayGateway",
    "FakeWeChatApi",
    "LoopbackServer",
    "WeChatUser",
]
