"""S3 fidelity for cairn's remote state backend.

* Conditional writes are atomic. AWS guarantees that of concurrent
  ``PutObject`` requests with ``If-None-Match: *`` (or ``If-Match``) on one
  key, exactly one succeeds; moto checks the condition and then writes, so
  two threads of its server can both pass the check. Every object write and
  delete here is serialised under one lock, which makes check-and-write one
  step, as in S3.
* ``x-amz-server-side-encryption-aws-kms-key-id`` must name a KMS key that
  exists and is enabled (S3 answers ``KMS.NotFoundException`` /
  ``KMS.DisabledException``, HTTP 400); moto stores any string.
* Every bucket is encrypted with SSE-S3 by default (since January 2023):
  ``GetBucketEncryption`` on a bucket nobody configured answers that
  default (``AES256``, ``BucketKeyEnabled`` false), not moto's
  ``ServerSideEncryptionConfigurationNotFoundError``; so does it after
  ``DeleteBucketEncryption``.
* ``GetBucketVersioning`` answers with AWS's root element
  ``VersioningConfiguration`` (empty for a never-versioned bucket); moto's
  ``GetBucketVersioningResponse`` root, empty, is refused by the Rust SDK.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.s3.exceptions import S3ClientError
from moto.s3.responses import S3Response

_WRITE_LOCK = threading.RLock()


class _KmsError(S3ClientError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def _check_kms_key(self: S3Response) -> None:
    if self.headers.get("x-amz-server-side-encryption") != "aws:kms":
        return
    key_id = self.headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    if not key_id:
        return  # the AWS managed key aws/s3
    from moto.kms.models import kms_backends

    kms = kms_backends[self.current_account][self.region]
    try:
        key = kms.describe_key(key_id)
    except Exception:  # noqa: BLE001 - any lookup failure is "not found"
        raise _KmsError("KMS.NotFoundException", f"Invalid keyId {key_id}")
    if not key.enabled:
        raise _KmsError("KMS.DisabledException", f"{key.arn} is disabled.")


def _wrap(original: Any, check_kms: bool) -> Any:
    def wrapped(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        with _WRITE_LOCK:
            if check_kms:
                _check_kms_key(self)
            return original(self, *args, **kwargs)

    wrapped._cairn_wrapped = True  # type: ignore[attr-defined]
    return wrapped


_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _get_bucket_versioning(self: S3Response) -> Any:
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="{_NS}">{inner}</VersioningConfiguration>'
    return 200, {"Content-Type": "application/xml"}, body


_DEFAULT_SSE = (
    "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
    "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule>"
)


def _with_default_encryption(original: Any) -> Any:
    def wrapped(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        if not self.backend.get_bucket_encryption(self.bucket_name):
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<ServerSideEncryptionConfiguration xmlns="{_NS}">'
                f"{_DEFAULT_SSE}</ServerSideEncryptionConfiguration>"
            )
            return 200, {"Content-Type": "application/xml"}, body
        return original(self, *args, **kwargs)

    return wrapped


def install() -> None:
    if getattr(S3Response.put_object, "_cairn_wrapped", False):
        return
    S3Response.get_bucket_encryption = _with_default_encryption(S3Response.get_bucket_encryption)  # type: ignore[method-assign]
    S3Response.get_bucket_versioning = _get_bucket_versioning  # type: ignore[method-assign]
    S3Response.put_object = _wrap(S3Response.put_object, check_kms=True)  # type: ignore[method-assign]
    S3Response.delete_object = _wrap(S3Response.delete_object, check_kms=False)  # type: ignore[method-assign]
