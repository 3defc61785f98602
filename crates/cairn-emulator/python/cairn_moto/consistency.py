"""Eventual consistency: a new KMS key or alias, IAM policy or role, or EC2 security
group stays invisible for ``hide_new_ms`` after its create, as on AWS, where
a follow-up call right after the create may answer not-found.

Off unless ``CAIRN_EMULATOR_HIDE_NEW_MS`` or ``POST /_cairn/config
{"hide_new_ms": N}`` sets it. The middleware hands each create's answer to
:func:`note_created` and asks :func:`hidden_error` before every other call.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs

from . import runtime

# id (key id, key ARN, alias name, policy ARN, group id) -> visible from (monotonic)
_HIDDEN: dict[str, float] = {}

_XML_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>Sender</Type>'
    "<Code>{code}</Code><Message>{message}</Message></Error><RequestId>cairn</RequestId></ErrorResponse>"
)
_EC2_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code>'
    "<Message>{message}</Message></Error></Errors><RequestID>cairn</RequestID></Response>"
)


def hide_seconds() -> float:
    with runtime.LOCK:
        return max(0, int(runtime.CONFIG.get("hide_new_ms", 0))) / 1000.0


def note_created(key: str, body: bytes) -> None:
    """Record the ids a successful create answered with."""
    hide = hide_seconds()
    if hide <= 0:
        return
    text = body.decode("utf-8", "replace")
    ids: list[str] = []
    if key == "kms:CreateKey":
        meta = json.loads(text).get("KeyMetadata", {})
        ids = [meta.get("KeyId", ""), meta.get("Arn", "")]
    elif key == "iam:CreatePolicy":
        ids = re.findall(r"<Arn>([^<]+)</Arn>", text)
    elif key == "iam:CreateRole":
        ids = re.findall(r"<RoleName>([^<]+)</RoleName>", text)
    elif key == "ec2:CreateSecurityGroup":
        ids = re.findall(r"<groupId>([^<]+)</groupId>", text)
    until = time.monotonic() + hide
    with runtime.LOCK:
        for i in ids:
            if i:
                _HIDDEN[i] = until


def note_alias(name: str) -> None:
    hide = hide_seconds()
    if hide > 0 and name:
        with runtime.LOCK:
            _HIDDEN[name] = time.monotonic() + hide


def _still_hidden(values: list[str]) -> str | None:
    now = time.monotonic()
    with runtime.LOCK:
        for v in values:
            until = _HIDDEN.get(v)
            if until is not None and now < until:
                return v
    return None


def hidden_error(key: str, body: bytes) -> tuple[str, str, bytes] | None:
    """(status, content type, body) of the not-found answer for a call that
    names a still-hidden object, else None."""
    if not _HIDDEN or key.endswith(":CreateKey") or key.endswith(":CreatePolicy") or key == "iam:CreateRole":
        return None
    service = key.split(":", 1)[0]
    if service == "kms":
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return None
        names = [str(data.get(k, "")) for k in ("KeyId", "TargetKeyId")]
        if key == "kms:CreateAlias":
            names = [str(data.get("TargetKeyId", ""))]
        hit = _still_hidden(names)
        if hit:
            msg = f"Key '{hit}' does not exist" if not hit.startswith("alias/") else f"Alias {hit} is not found."
            payload = json.dumps({"__type": "NotFoundException", "message": msg}).encode()
            return ("400 Bad Request", "application/x-amz-json-1.1", payload)
        return None
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if service == "iam":
        hit = _still_hidden([form.get("PolicyArn", "")])
        role = _still_hidden([form.get("RoleName", "")])
        if role and not hit:
            msg = f"The role with name {role} cannot be found."
            return ("404 Not Found", "text/xml", _XML_ERROR.format(code="NoSuchEntity", message=msg).encode())
        if hit:
            msg = f"Policy {hit} was not found."
            return ("404 Not Found", "text/xml", _XML_ERROR.format(code="NoSuchEntity", message=msg).encode())
        return None
    if service == "ec2" and key != "ec2:CreateSecurityGroup":
        ids = [v for k, v in form.items() if k == "GroupId" or re.fullmatch(r"GroupId\.\d+", k)]
        hit = _still_hidden(ids)
        if hit:
            msg = f"The security group '{hit}' does not exist"
            return ("400 Bad Request", "text/xml", _EC2_ERROR.format(code="InvalidGroup.NotFound", message=msg).encode())
    return None


def wrap(app: Any, environ: dict[str, Any], start_response: Any, key: str | None, body: bytes) -> Any:
    """Runs the request through the hiding rules (only when the knob is on)."""
    if key is None or hide_seconds() <= 0:
        return app(environ, start_response)
    err = hidden_error(key, body)
    if err is not None:
        status, ctype, payload = err
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(payload)))])
        return [payload]
    if key not in ("kms:CreateKey", "kms:CreateAlias", "iam:CreatePolicy", "iam:CreateRole", "ec2:CreateSecurityGroup"):
        return app(environ, start_response)
    captured: dict[str, Any] = {}

    def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
        captured["status"] = status
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    chunks = list(app(environ, capture))
    out = b"".join(chunks)
    if str(captured.get("status", "")).startswith("200"):
        try:
            if key == "kms:CreateAlias":
                note_alias(str(json.loads(body or b"{}").get("AliasName", "")))
            else:
                note_created(key, out)
        except ValueError:
            pass
    return [out]
