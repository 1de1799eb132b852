"""Reading an AWS request and writing AWS's error answers, per wire protocol.

The service and region come from the SigV4 credential scope; the operation from `Action=`
(EC2, RDS, ELBv2, IAM and STS speak the query protocol), from `X-Amz-Target` (ACM, SSM and
Service Quotas speak awsJson1_1, and so does any other call carrying that header) or from
the method and path (EFS speaks restJson1, matched against botocore's model of its URIs);
other REST services (S3, ...) name no operation the layer reads. Errors the layer answers
itself (faults, throttling, propagation lag) are rendered in the shape each service uses,
so an SDK parses code, message and status as it would from AWS.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

_CREDENTIAL = re.compile(r"Credential=([^/,&\s]+)/\d{8}/([^/&]+)/([^/&]+)/aws4_request")

QUERY_SERVICES = ("ec2", "rds", "elasticloadbalancing")
JSON_SERVICES = ("acm", "ssm", "servicequotas")
REST_SERVICES = ("elasticfilesystem",)

# Namespaces of the query-protocol error documents (the APIs' XML namespaces).
_XMLNS = {
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
}


@dataclass(frozen=True)
class Credential:
    """The SigV4 credential scope: who signed, for which region and service."""

    access_key: str
    region: str
    service: str


@dataclass(frozen=True)
class AwsRequest:
    """An AWS API call as the layer sees it."""

    service: str
    region: str
    operation: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ErrorAnswer:
    """An HTTP answer carrying an AWS error."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def credential(environ: dict[str, Any]) -> Credential | None:
    """The credential scope of a SigV4-signed request (header or presigned query)."""
    source = environ.get("HTTP_AUTHORIZATION") or environ.get("QUERY_STRING", "").replace("%2F", "/")
    match = _CREDENTIAL.search(source)
    if match is None:
        return None
    return Credential(access_key=match.group(1), region=match.group(2), service=match.group(3))


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the whole request body and put it back, so moto reads it again."""
    stream = environ["wsgi.input"]
    body: bytes
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = stream.read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def parse(environ: dict[str, Any], body: bytes, scope: Credential) -> AwsRequest:
    """Identify the operation and decode the parameters of a request."""
    if environ.get("HTTP_CONTENT_ENCODING") == "gzip":
        body = gzip.decompress(body)
    service = scope.service
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if service in JSON_SERVICES or target:
        params = _json(body)
        return AwsRequest(service, scope.region, target.rsplit(".", 1)[-1], params)
    if service in REST_SERVICES:
        operation, path_params = _rest_operation(service, environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        params = {**dict(parse_qsl(environ.get("QUERY_STRING", ""))), **_json(body), **path_params}
        return AwsRequest(service, scope.region, operation, params)
    params = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return AwsRequest(service, scope.region, params.get("Action", ""), params)


def _json(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@functools.cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path pattern, operation) for every operation of a REST service, most specific first."""
    import botocore.session

    model = botocore.session.get_session().get_service_model({"elasticfilesystem": "efs"}[service])
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(uri))
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        routes.append((http["method"], re.compile(f"^{pattern}/?$"), name, len(uri)))
    routes.sort(key=lambda r: -r[3])
    return [(method, pattern, name) for method, pattern, name, _ in routes]


def _rest_operation(service: str, method: str, path: str) -> tuple[str, dict[str, str]]:
    for route_method, pattern, name in _rest_routes(service):
        if route_method == method:
            match = pattern.match(path)
            if match:
                return name, match.groupdict()
    return "", {}


def error(service: str, code: str, message: str, status: int) -> ErrorAnswer:
    """An AWS error answer in the service's protocol."""
    request_id = str(uuid.uuid4())
    if service == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{_xml(code)}</Code><Message>{_xml(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return ErrorAnswer(status, [("Content-Type", "text/xml;charset=UTF-8")], body.encode())
    if service in QUERY_SERVICES:
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f'<ErrorResponse xmlns="{_XMLNS[service]}"><Error><Type>{kind}</Type>'
            f"<Code>{_xml(code)}</Code><Message>{_xml(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return ErrorAnswer(
            status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()
        )
    if service in REST_SERVICES:
        body = json.dumps({"ErrorCode": code, "Message": message})
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
        return ErrorAnswer(status, headers, body.encode())
    body = json.dumps({"__type": code, "message": message})
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
    return ErrorAnswer(status, headers, body.encode())


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Each service's own answers to throttling and server trouble: (code, message, status).
def throttling(service: str) -> tuple[str, str, int]:
    if service == "ec2":
        return "RequestLimitExceeded", "Request limit exceeded.", 503
    if service in ("rds", "elasticloadbalancing"):
        return "Throttling", "Rate exceeded", 400
    if service in REST_SERVICES:
        return "ThrottlingException", "Rate exceeded", 429
    return "ThrottlingException", "Rate exceeded", 400


def internal_error(service: str) -> tuple[str, str, int]:
    if service == "ec2":
        return "InternalError", "An internal error has occurred", 500
    return "InternalFailure", "The request processing has failed because of an unknown error, exception or failure.", 500


def unavailable(service: str) -> tuple[str, str, int]:
    if service == "ec2":
        return "Unavailable", "The server is overloaded and can't handle the request.", 503
    return "ServiceUnavailable", "The request has failed due to a temporary failure of the server.", 503
