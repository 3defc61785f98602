"""Throttling: a fraction of API calls answered with the service's real throttling error.

``CAIRN_EMULATOR_THROTTLE_RATE`` (0.0-1.0, default 0) is the fraction;
``CAIRN_EMULATOR_THROTTLE_SEED`` (default 0) seeds the draw so a run is
repeatable; both also through ``POST /_cairn/config {"throttle_rate": R,
"throttle_seed": N}`` (a new seed restarts the sequence). A throttled call is
counted as usual and also under ``throttled:<service>:<Action>``.

The answers are AWS's (AWS SDKs treat each code as throttling):
- EC2 (query protocol, own error shape): HTTP 503 ``RequestLimitExceeded``.
- Query services (IAM, STS, ElastiCache, RDS): HTTP 400 ``Throttling``.
- JSON services (KMS, Secrets Manager, ECR, ...): HTTP 400 ``ThrottlingException``.
- S3: HTTP 503 ``SlowDown``; REST-JSON services (EKS): HTTP 429 ``ThrottlingException``.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any, Callable, Iterable

from . import runtime

_RNG = random.Random(0)
_SEEDED: int | None = None


def should_throttle() -> bool:
    """Draw once (under the runtime lock) against the configured rate."""
    global _SEEDED
    with runtime.LOCK:
        rate = float(runtime.CONFIG.get("throttle_rate") or 0.0)
        if rate <= 0.0:
            return False
        seed = int(runtime.CONFIG.get("throttle_seed") or 0)
        if _SEEDED != seed:
            _RNG.seed(seed)
            _SEEDED = seed
        return _RNG.random() < rate


def reseed() -> None:
    """Restart the draw sequence from the configured seed."""
    global _SEEDED
    with runtime.LOCK:
        _SEEDED = None


def answer(key: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    service = key.split(":", 1)[0]
    rid = str(uuid.uuid4())
    if service == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
            "<Message>Request limit exceeded.</Message></Error></Errors>"
            f"<RequestID>{rid}</RequestID></Response>"
        ).encode()
        return _send(start_response, "503 Service Unavailable", "text/xml", body, rid)
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
            f"<RequestId>{rid}</RequestId></Error>"
        ).encode()
        return _send(start_response, "503 Slow Down", "application/xml", body, rid)
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return _send(
            start_response, "400 Bad Request", "application/x-amz-json-1.1", body, rid, "ThrottlingException"
        )
    ctype = environ.get("CONTENT_TYPE", "")
    if ctype.startswith("application/x-www-form-urlencoded") or "Action=" in environ.get("QUERY_STRING", ""):
        body = (
            '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            f"<RequestId>{rid}</RequestId></ErrorResponse>"
        ).encode()
        return _send(start_response, "400 Bad Request", "text/xml", body, rid)
    body = json.dumps({"message": "Rate exceeded"}).encode()
    return _send(start_response, "429 Too Many Requests", "application/json", body, rid, "ThrottlingException")


def _send(
    start_response: Callable[..., Any],
    status: str,
    ctype: str,
    body: bytes,
    rid: str,
    error_type: str | None = None,
) -> Iterable[bytes]:
    headers = [
        ("Content-Type", ctype),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", rid),
    ]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    start_response(status, headers)
    return [body]
