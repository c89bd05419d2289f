"""Property-based fuzzing of every operation in the app's own OpenAPI document: no request, valid
or not, gets a 5xx or a response that breaks its documented schema. Member endpoints run as a
seeded, registered member with a loan, messages and applications, so happy paths are reached too;
internal endpoints are signed as the core system signs them (``SignInternalCalls``), so the fuzz
reaches their payload handling instead of stopping at the 401.

New endpoints are covered as soon as they are in /openapi.json. (schemathesis' pytest
``from_fixture`` loader needs pytest < 9, so the operations are driven through its Python API.)"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import select
from werkzeug.wrappers import Request

from backend.app import create_app
from backend.clock import utcnow
from backend.integration import signing
from backend.loans.models import LoanContract
from backend.members.models import Credential, Member
from backend.runtime import Runtime
from devtools.demo import start_channel_fakes
from devtools.seed.runner import seed_centre

# Enough members for every showcase profile (loan states, applications, many messages).
SEEDED_MEMBERS = 12
EXAMPLES = 25  # per operation and generation mode: about a minute for the whole API


class SignInternalCalls:
    """WSGI middleware: signs each ``/internal/`` request (whatever the fuzzer generated) with the
    core system's key, and records the status each one got."""

    def __init__(self, app: Any, key_id: str, secret: str) -> None:
        self.app, self.key_id, self.secret = app, key_id, secret
        self.statuses: list[int] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if not request.path.startswith("/internal/"):
            return self.app(environ, start_response)
        body = request.get_data()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        headers = signing.signed_headers(
            self.key_id,
            self.secret,
            environ["REQUEST_METHOD"],
            request.path,
            query=environ.get("QUERY_STRING", ""),
            body=body,
            timestamp=int(utcnow().timestamp()),
        )
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value

        def recording_start_response(status: str, *args: Any) -> Any:
            self.statuses.append(int(status.split()[0]))
            return start_response(status, *args)

        return self.app(environ, recording_start_response)


@pytest.fixture
def seeded_app(make_runtime: Any, runtime: Runtime, tmp_path: Path) -> Iterator[Any]:
    """The app over a seeded centre, its channel clients pointed at running Alipay/WeChat fakes
    (without them the channel logins could only answer 503)."""
    result = seed_centre(runtime, members=SEEDED_MEMBERS, seed=11, progress=False)
    rows = [
        {"id_number": m.id_number, "name": m.name, "phone": m.phone or ""}
        for m in result.demo_members
    ]
    keys_dir = tmp_path / "fake-keys"
    fakes = start_channel_fakes(
        runtime.settings, rows, alipay_port=0, wechat_port=0, keys_dir=keys_dir
    )
    runtime = make_runtime(
        settings=runtime.settings.with_(
            channels="fake",
            fakes_alipay_port=urlsplit(fakes.alipay.url).port,
            fakes_wechat_port=urlsplit(fakes.wechat.url).port,
            fakes_keys_dir=str(keys_dir),
        )
    )
    try:
        yield create_app(runtime=runtime)
    finally:
        fakes.stop()


@pytest.fixture
def member_headers(seeded_app: Any, session: Any, login: Any) -> dict[str, str]:
    """A registered member with a loan: the richest view of the member API."""
    member = session.scalars(
        select(Member)
        .join(Credential, Credential.member_id == Member.id)
        .join(LoanContract, LoanContract.member_id == Member.id)
        .order_by(Member.id)
    ).first()
    assert member is not None
    return login(member)


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            headers=headers, checks=[not_a_server_error, response_schema_conformance]
        )

    run()


def test_every_operation_keeps_its_contract_when_fuzzed(
    seeded_app: Any, member_headers: dict[str, str], runtime: Runtime
) -> None:
    signed = SignInternalCalls(seeded_app, "core", runtime.settings.internal_keys["core"])
    schema = schemathesis.openapi.from_wsgi("/openapi.json", signed)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.method.upper()} {operation.path} [{mode.value}]"
            try:
                _fuzz(operation, mode, member_headers)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters
            except (Exception, BaseExceptionGroup) as exc:  # one report for the whole API
                failures[label] = str(exc)[:3000]
    assert operations >= 10, "the OpenAPI document lost its operations"
    assert signed.statuses and 401 not in signed.statuses, "internal calls were not signed"
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())
