"""The WSGI middleware around moto, and the control API beside it.

A request whose SigV4 access key belongs to a session is served in that session's moto
account (`x-moto-account-id`, honoured by `moto/core/responses.py:get_current_account`),
after the session's due transitions and the gate's verdict; any other request reaches plain
moto untouched. `/moto-api/` keeps working. Every moto dispatch runs under the global lock
and its answer is read completely before the lock is released; sleeps happen outside it.

Control API (JSON):
    GET    /_faithful/health                  200 when ready
    POST   /_faithful/sessions                config -> 201 {"id", "access_key", "account_id"}
    GET    /_faithful/sessions/<id>           the session and its configuration
    PATCH  /_faithful/sessions/<id>           merge into the configuration
    DELETE /_faithful/sessions/<id>           end the session and drop its moto account
    GET    /_faithful/sessions/<id>/log       events, summary, lifecycles, calls, mutating
    GET    /_faithful/sessions/<id>/inventory live objects of the session's account
"""

from __future__ import annotations

import json
import socket
import struct
import time
from http import HTTPStatus
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.base_backend import BackendDict
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from . import gate, inventory, patches, protocol
from .config import Config, ConfigError
from .context import LOCK, RequestContext, serving
from .session import Registry, Session

patches.apply()

StartResponse = Callable[..., Any]
Answer = tuple[str, list[tuple[str, str]], bytes]


class FaithfulApp:
    """The WSGI application: moto in-process, behind the session layer."""

    def __init__(self) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.sessions = Registry()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_faithful/"):
            status, headers, body = self._control(environ, path)
        else:
            scope = protocol.credential(environ)
            with LOCK:
                session = self.sessions.by_access_key(scope.access_key) if scope else None
            if session is None or scope is None or path.startswith("/moto-api"):
                with LOCK:
                    status, headers, body = self._moto(environ)
            else:
                answer = self._serve(session, scope, environ)
                if answer is None:
                    _drop(environ)
                    start_response("500 Connection Dropped", [("Content-Length", "0")])
                    return []
                status, headers, body = answer
        start_response(status, headers)
        return [body]

    # -- AWS calls of a session ------------------------------------------------------------

    def _serve(self, session: Session, scope: protocol.Credential, environ: dict[str, Any]) -> Answer | None:
        """Serve one call of a session; None means: drop the connection, answer nothing."""
        body = protocol.read_body(environ)
        request = protocol.parse(environ, body, scope)
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = session.account_id
        with LOCK:
            session.count_call(request.service, request.operation)
            session.advance()
            verdict = gate.decide(session, request)
        if verdict.answer is not None:
            error = verdict.answer
            headers = [*error.headers, ("Content-Length", str(len(error.body)))]
            return f"{error.status} {_reason(error.status)}", headers, error.body
        if verdict.drop_before:
            return None
        if verdict.slow_seconds:
            time.sleep(verdict.slow_seconds)
        with LOCK:
            session.advance()
            key = _idempotency_key(request)
            answer = session.idempotent.get(key) if key else None
            if answer is None:
                with serving(RequestContext(session, request)):
                    answer = self._moto(environ)
                if key and answer[0].startswith("200"):
                    session.idempotent[key] = answer
        return None if verdict.drop_after else answer

    def _moto(self, environ: dict[str, Any]) -> Answer:
        """Call moto and read its whole answer (the caller holds the lock)."""
        captured: list[Any] = []
        chunks: list[bytes] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [status, headers]
            return chunks.append

        result = self.moto(environ, start)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return captured[0], list(captured[1]), b"".join(chunks)

    # -- control API -----------------------------------------------------------------------

    def _control(self, environ: dict[str, Any], path: str) -> Answer:
        method = environ["REQUEST_METHOD"]
        parts = path.strip("/").split("/")[1:]  # drop "_faithful"
        try:
            if parts == ["health"] and method == "GET":
                return _json(200, {"status": "ready"})
            if parts == ["sessions"] and method == "POST":
                return self._create_session(_read_json(environ))
            if len(parts) in (2, 3) and parts[0] == "sessions":
                with LOCK:
                    session = self.sessions.get(parts[1])
                    if session is None:
                        return _json(404, {"error": f"no session {parts[1]}"})
                    session.advance()
                    return self._session_call(session, method, parts[2:], environ)
            return _json(404, {"error": f"no route {method} {path}"})
        except ConfigError as error:
            return _json(400, {"error": str(error)})

    def _create_session(self, raw: Any) -> Answer:
        config = Config.parse(raw if raw is not None else {})
        with LOCK:
            session = self.sessions.create(config)
        return _json(201, {"id": session.id, "access_key": session.access_key, "account_id": session.account_id})

    def _session_call(self, session: Session, method: str, rest: list[str], environ: dict[str, Any]) -> Answer:
        if rest == ["log"] and method == "GET":
            return _json(200, session.log_json())
        if rest == ["inventory"] and method == "GET":
            return _json(200, inventory.take(session))
        if rest == [] and method == "GET":
            return _json(200, _describe(session))
        if rest == [] and method == "PATCH":
            session.config = session.config.merged(_read_json(environ) or {})
            return _json(200, _describe(session))
        if rest == [] and method == "DELETE":
            self.sessions.remove(session)
            _forget_account(session.account_id)
            return "204 No Content", [("Content-Length", "0")], b""
        return _json(405, {"error": f"{method} not supported here"})


# EC2 calls that take a client token: "If you repeat a request with the same client token,
# the result is the same as the original request" (EC2 API reference, "Ensuring
# idempotency"). moto ignores the token and would make a second object.
_CLIENT_TOKEN_CALLS = {"RunInstances", "CreateNatGateway", "CreateRouteTable"}


def _idempotency_key(request: protocol.AwsRequest) -> tuple[str, str, str] | None:
    """The key under which a call with a client token is answered once."""
    if request.service != "ec2" or request.operation not in _CLIENT_TOKEN_CALLS:
        return None
    token = request.params.get("ClientToken")
    return (request.region, request.operation, str(token)) if token else None


def _describe(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "access_key": session.access_key,
        "account_id": session.account_id,
        "config": session.config.to_json(),
    }


def _forget_account(account_id: str) -> None:
    """Drop everything moto holds for the account, in every service."""
    # moto's registry of the BackendDicts in use, the one `/moto-api/reset` clears.
    registered: list[Any] = getattr(BackendDict, "_instances")
    for backend_dict in {id(b): b for b in registered}.values():
        dict.pop(backend_dict, account_id, None)


def _read_json(environ: dict[str, Any]) -> Any:
    body = protocol.read_body(environ)
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as error:
        raise ConfigError(f"the body is not JSON: {error}") from None


def _json(status: int, data: Any) -> Answer:
    body = json.dumps(data).encode()
    return f"{status} {_reason(status)}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _drop(environ: dict[str, Any]) -> None:
    """Close the client's connection with a reset (SO_LINGER 0), answering nothing."""
    connection = environ.get("werkzeug.socket")
    if connection is None:
        return
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
