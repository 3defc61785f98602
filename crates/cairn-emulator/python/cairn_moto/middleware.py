"""WSGI middleware: API call counting and the ``/_cairn/*`` control endpoints.

Endpoints (all JSON):
  GET  /_cairn/health            -> {"ok": true, "moto": "5.2.5", "pid": ...}
  GET  /_cairn/calls             -> {"elasticache:CreateReplicationGroup": 1, ...}
  POST /_cairn/calls/reset       -> {}
  GET  /_cairn/config            -> {"delay_ms": N, "twin": bool}
  POST /_cairn/config            <- {"delay_ms": N, "twin": bool, "latency_ms": N,
                                     "hide_new_ms": N, "subnet_group_in_use_ms": N,
                                     "member_lag_ms": N} (all optional;
                                     hide_new_ms hides new keys/aliases/policies/groups, see
                                     consistency.py; subnet_group_in_use_ms keeps a cache subnet
                                     group in use after its replication group is deleted;
                                     member_lag_ms keeps members added/removed by a replica
                                     change creating/deleting after the group is available;
                                     throttle_rate/throttle_seed: see throttle.py)
  GET  /_cairn/twin/<rg-id>      -> twin description, 404 if none
"""

from __future__ import annotations

import io
import json
import time
import os
import re
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from . import MOTO_VERSION, runtime, throttle

# X-Amz-Target prefixes -> service name, for JSON-protocol services.
TARGET_PREFIXES = {
    "TrentService": "kms",
    "secretsmanager": "secretsmanager",
    "AmazonSSM": "ssm",
    "AWSSecurityTokenServiceV20110615": "sts",
    "Logs_20140328": "logs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "AWSEvents": "events",
    "AmazonSQS": "sqs",
}

CRED_RE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/")
HOST_RE = re.compile(r"^([a-z0-9-]+)\.([a-z0-9-]+)\.amazonaws\.com")

S3_SUBRESOURCES = {
    "acl": "Acl",
    "cors": "Cors",
    "encryption": "Encryption",
    "lifecycle": "LifecycleConfiguration",
    "location": "Location",
    "logging": "Logging",
    "notification": "NotificationConfiguration",
    "ownershipControls": "OwnershipControls",
    "policy": "Policy",
    "publicAccessBlock": "PublicAccessBlock",
    "replication": "Replication",
    "tagging": "Tagging",
    "versioning": "Versioning",
    "website": "Website",
    "object-lock": "ObjectLockConfiguration",
}


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _s3_action(environ: dict[str, Any]) -> str:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "/").strip("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    parts = path.split("/", 1) if path else []
    if not parts:
        return "ListBuckets"
    has_key = len(parts) == 2 and parts[1] != ""
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(method, method)
    if has_key:
        if "uploads" in query and method == "POST":
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return {
                "PUT": "UploadPart",
                "POST": "CompleteMultipartUpload",
                "DELETE": "AbortMultipartUpload",
                "GET": "ListParts",
            }.get(method, "MultipartUpload")
        if "tagging" in query:
            return f"{verb}ObjectTagging"
        if "acl" in query:
            return f"{verb}ObjectAcl"
        if method == "PUT" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
            return "CopyObject"
        return f"{verb}Object"
    for sub, name in S3_SUBRESOURCES.items():
        if sub in query:
            if sub in ("publicAccessBlock", "ownershipControls"):
                return f"{verb}{name}"
            return f"{verb}Bucket{name}"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "GET":
        if "versions" in query:
            return "ListObjectVersions"
        if "uploads" in query:
            return "ListMultipartUploads"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}.get(method, f"{verb}Bucket")


def classify(environ: dict[str, Any]) -> str | None:
    """Return "service:Action" for an AWS API request, or None."""
    service = None
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = CRED_RE.search(auth) or CRED_RE.search(environ.get("QUERY_STRING", "").replace("%2F", "/"))
    if m:
        service = m.group(2)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if not service and target:
        prefix = target.split(".", 1)[0]
        service = TARGET_PREFIXES.get(prefix, prefix.lower())
    if not service:
        hm = HOST_RE.match(environ.get("HTTP_HOST", ""))
        if hm:
            service = hm.group(1)
    if target:
        return f"{service or 'unknown'}:{target.split('.', 1)[-1]}"
    action = None
    ctype = environ.get("CONTENT_TYPE", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(_read_body(environ).decode("utf-8", "replace"))
        action = (form.get("Action") or [None])[0]
    if not action:
        action = (parse_qs(environ.get("QUERY_STRING", "")).get("Action") or [None])[0]
    if action:
        return f"{service or 'unknown'}:{action}"
    if service == "s3" or (service is None and auth):
        return f"s3:{_s3_action(environ)}"
    if service:
        return f"{service}:{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"
    return None


def _json(start_response: Callable[..., Any], status: str, payload: Any) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class CairnMiddleware:
    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_cairn/"):
            try:
                return self.control(environ, start_response, path)
            except Exception as e:  # noqa: BLE001
                return _json(start_response, "500 Internal Server Error", {"error": str(e)})
        if not path.startswith("/moto-api"):
            try:
                key = classify(environ)
            except Exception:  # noqa: BLE001 - counting must never break a request
                key = None
            if key:
                runtime.record_call(key)
            latency = runtime.latency_seconds()
            if latency > 0:
                time.sleep(latency)
            if key and throttle.should_throttle():
                runtime.record_call(f"throttled:{key}")
                return throttle.answer(key, environ, start_response)
            if runtime.CONFIG.get("hide_new_ms"):
                from . import consistency

                return consistency.wrap(self.app, environ, start_response, key, _read_body(environ))
        return self.app(environ, start_response)

    def control(self, environ: dict[str, Any], start_response: Callable[..., Any], path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path == "/_cairn/health":
            return _json(start_response, "200 OK", {"ok": True, "moto": MOTO_VERSION, "pid": os.getpid()})
        if path == "/_cairn/calls" and method == "GET":
            return _json(start_response, "200 OK", runtime.snapshot_calls())
        if path == "/_cairn/calls/reset" and method == "POST":
            runtime.reset_calls()
            return _json(start_response, "200 OK", {})
        if path == "/_cairn/config":
            if method == "POST":
                raw = _read_body(environ)
                data = json.loads(raw or b"{}")
                with runtime.LOCK:
                    if "delay_ms" in data:
                        runtime.CONFIG["delay_ms"] = max(0, int(data["delay_ms"]))
                    if "twin" in data:
                        runtime.CONFIG["twin"] = bool(data["twin"])
                    if "latency_ms" in data:
                        runtime.CONFIG["latency_ms"] = max(0, int(data["latency_ms"]))
                    if "hide_new_ms" in data:
                        runtime.CONFIG["hide_new_ms"] = max(0, int(data["hide_new_ms"]))
                    if "subnet_group_in_use_ms" in data:
                        runtime.CONFIG["subnet_group_in_use_ms"] = max(0, int(data["subnet_group_in_use_ms"]))
                    if "member_lag_ms" in data:
                        runtime.CONFIG["member_lag_ms"] = max(0, int(data["member_lag_ms"]))
                    if "throttle_rate" in data:
                        runtime.CONFIG["throttle_rate"] = min(1.0, max(0.0, float(data["throttle_rate"])))
                    if "throttle_seed" in data:
                        runtime.CONFIG["throttle_seed"] = int(data["throttle_seed"])
                        throttle.reseed()
            with runtime.LOCK:
                cfg = {
                    "delay_ms": runtime.CONFIG["delay_ms"],
                    "twin": runtime.CONFIG["twin"],
                    "latency_ms": runtime.CONFIG["latency_ms"],
                    "hide_new_ms": runtime.CONFIG["hide_new_ms"],
                    "subnet_group_in_use_ms": runtime.CONFIG["subnet_group_in_use_ms"],
                    "member_lag_ms": runtime.CONFIG["member_lag_ms"],
                    "throttle_rate": runtime.CONFIG["throttle_rate"],
                    "throttle_seed": runtime.CONFIG["throttle_seed"],
                }
            return _json(start_response, "200 OK", cfg)
        if path.startswith("/_cairn/twin/") and method == "GET":
            from .elasticache_ext import twin_info

            info = twin_info(path[len("/_cairn/twin/") :])
            if info is None:
                return _json(start_response, "404 Not Found", {"error": "no twin"})
            return _json(start_response, "200 OK", info)
        return _json(start_response, "404 Not Found", {"error": f"unknown endpoint {method} {path}"})
