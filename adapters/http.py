"""The HTTP sessions of the channel clients.

requests reads the environment on every request of a session that trusts it (``trust_env``, the
default): the proxy variables (walking all of ``os.environ`` twice), ``NO_PROXY`` against the
host, ``REQUESTS_CA_BUNDLE`` and ``~/.netrc``. For a client that calls one platform for its whole
life that is the same answer each time, and it was a quarter of a WeChat send's CPU. A pinned
session reads it once, when the client is built: an egress proxy (``HTTPS_PROXY`` / ``NO_PROXY``)
and a CA bundle set in the environment still apply; changing them needs a restart, and a
``.netrc`` login is never sent (no platform API takes one).
"""

from __future__ import annotations

import requests


def pinned_session(url: str, session: requests.Session | None = None) -> requests.Session:
    """``session`` (a new one by default) with the environment's settings for ``url`` fixed."""
    session = session if session is not None else requests.Session()
    settings = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.trust_env = False
    return session
