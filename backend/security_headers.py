"""Security headers on every response: a Content-Security-Policy, no framing, no sniffing.

API answers (JSON) get a policy that allows nothing: they are data, never a page. HTML pages (the
Swagger UI at ``/docs``, the H5 build of the mini-program) load only from this origin: Swagger
UI's files come from the installed package (no CDN), and the few inline scripts the pages carry
(Swagger UI's start-up, uni-app's viewport line) are allowed by their SHA-256 hash, computed from
the page actually sent, so no other inline script can run. Styles may be inline: Swagger UI and
uni-app set them at run time. ``blob:`` serves the certificate PDF: the H5 fetches it with the
member's token and opens it as a blob URL in a new tab, which inherits this policy and shows the
PDF in the browser's viewer (a plugin, hence ``object-src``); only our own scripts make blobs.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re

from flask import Response

DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' blob:; "
    "object-src blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cache-Control": "no-store",
}

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


@functools.lru_cache(maxsize=64)
def page_policy(html: bytes) -> str:
    """The policy of an HTML page: its own inline scripts allowed by hash, nothing else."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return PAGE_POLICY.format(hashes=hashes)


def apply_security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if response.status_code == 304:
        # Headers of a 304 replace the cached ones: a policy without the page's hashes would
        # block its scripts. The cached page keeps the policy it came with.
        return response
    if response.mimetype == "text/html":
        # Files are streamed (send_from_directory): read the page to hash its inline scripts.
        response.direct_passthrough = False
        policy = page_policy(response.get_data())
    else:
        policy = DATA_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    return response
