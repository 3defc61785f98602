"""IAM operations moto 5.2.5 lacks.

* ``AddClientIDToOpenIDConnectProvider`` / ``RemoveClientIDFromOpenIDConnectProvider``:
  both idempotent, as the API reference says (adding a client id already
  there, or removing one that is not, is no error); an unknown provider ARN
  is ``NoSuchEntity``; a client id is 1 to 255 characters and a provider has
  at most 100.
* AWS managed policies (``arn:aws:iam::aws:policy/...``, e.g.
  ``AmazonEKSClusterPolicy``) exist, as in every account: moto 5 loads its
  copy of them only when ``MOTO_IAM_LOAD_MANAGED_POLICIES`` is true.
* ``GetAccountAuthorizationDetails`` pages as AWS does: ``MaxItems`` is 1 to
  1000 (default 100; outside that a ``ValidationError``) and counts the
  entries of all four lists together; a truncated answer carries an opaque
  ``Marker`` for the next page (``IsTruncated``). moto ignores both and
  answers everything at once. Entries are in a stable order (users, groups,
  roles, policies, each by ARN), so an entry deleted between pages does not
  shift the next page. Each ``Policies`` entry is a ``ManagedPolicyDetail``
  with the ``PolicyName`` and ``PolicyId`` moto leaves out, ``Description``
  only when there is one, and every version with its URL-encoded document.
  The filter is honoured for every list (instance profiles are listed only
  within their roles' ``InstanceProfileList``, as on AWS).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.iam.exceptions import IAMException
from moto.iam.responses import IamResponse

MAX_CLIENT_IDS = 100


class _LimitExceeded(IAMException):
    code = "LimitExceeded"


class _Validation(IAMException):
    code = "ValidationError"


def _client_id(self: IamResponse) -> str:
    cid = self._get_param("ClientID") or ""
    if not 1 <= len(cid) <= 255:
        raise _Validation("ClientID must be 1 to 255 characters")
    return cid


def add_client_id_to_open_id_connect_provider(self: IamResponse) -> EmptyResult:
    arn = self._get_param("OpenIDConnectProviderArn")
    cid = _client_id(self)
    provider = self.backend.get_open_id_connect_provider(arn)
    if cid not in provider.client_id_list:
        if len(provider.client_id_list) >= MAX_CLIENT_IDS:
            raise _LimitExceeded(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")
        provider.client_id_list.append(cid)
    return EmptyResult()


def remove_client_id_from_open_id_connect_provider(self: IamResponse) -> EmptyResult:
    arn = self._get_param("OpenIDConnectProviderArn")
    cid = _client_id(self)
    provider = self.backend.get_open_id_connect_provider(arn)
    if cid in provider.client_id_list:
        provider.client_id_list.remove(cid)
    return EmptyResult()


ENTITY_TYPES = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
# The lists of a GetAccountAuthorizationDetails answer, in the order paged.
_DETAIL_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
MAX_ITEMS_LIMIT = 1000
DEFAULT_MAX_ITEMS = 100


def _max_items(self: IamResponse) -> int:
    raw = self._get_param("MaxItems")
    if raw is None or raw == "":
        return DEFAULT_MAX_ITEMS
    try:
        n = int(raw)
    except (TypeError, ValueError):
        raise _Validation(f"1 validation error detected: Value '{raw}' at 'maxItems' failed to satisfy constraint: Member must be an integer")
    if n < 1:
        raise _Validation(f"1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1")
    if n > MAX_ITEMS_LIMIT:
        raise _Validation(f"1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to {MAX_ITEMS_LIMIT}")
    return n


def _encode_marker(position: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()


def _decode_marker(marker: str) -> tuple[int, str]:
    try:
        kind, arn = json.loads(base64.urlsafe_b64decode(marker.encode()))
        return int(kind), str(arn)
    except Exception:  # noqa: BLE001 - any malformed marker
        raise _Validation("Invalid Marker.")


def _policy_detail(policy: Any) -> dict[str, Any]:
    """A ``ManagedPolicyDetail`` (moto's own serialisation leaves out the
    policy's name and id)."""
    detail: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version_id,
        "AttachmentCount": policy.attachment_count,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": policy.is_attachable,
        "CreateDate": policy.create_date,
        "UpdateDate": policy.update_date,
        # Every version, its document URL-encoded, IsDefaultVersion set.
        "PolicyVersionList": policy.policy_version_list,
    }
    if policy.description:
        detail["Description"] = policy.description
    return detail


def get_account_authorization_details(self: IamResponse) -> ActionResult:
    filters = self._get_param("Filter", []) or []
    for f in filters:
        if f not in ENTITY_TYPES:
            raise _Validation(
                f"1 validation error detected: Value '[{', '.join(filters)}]' at 'filter' failed to satisfy "
                f"constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{', '.join(ENTITY_TYPES)}]]"
            )
    max_items = _max_items(self)
    marker = self._get_param("Marker")
    start = _decode_marker(marker) if marker else None
    details = self.backend.get_account_authorization_details(filters)
    # moto's answer also carries every instance profile whatever the filter;
    # AWS has no such list (profiles appear within their roles), so it is
    # not used.
    lists = [
        sorted(details["users"], key=lambda u: u.arn),
        sorted(details["groups"], key=lambda g: g.arn),
        sorted(details["roles"], key=lambda r: r.arn),
        sorted({p.arn: p for p in details["managed_policies"]}.values(), key=lambda p: p.arn),
    ]
    entries = [(kind, item.arn, item) for kind, items in enumerate(lists) for item in items]
    if start is not None:
        entries = [e for e in entries if (e[0], e[1]) > start]
    page, rest = entries[:max_items], entries[max_items:]
    result: dict[str, Any] = {name: [] for name in _DETAIL_LISTS}
    for kind, _, item in page:
        result[_DETAIL_LISTS[kind]].append(_policy_detail(item) if kind == 3 else item)
    result["IsTruncated"] = bool(rest)
    if rest:
        result["Marker"] = _encode_marker((page[-1][0], page[-1][1]))
    return ActionResult(result)


def install() -> None:
    # Read when an account's IAM backend is first made, after this.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    IamResponse.add_client_id_to_open_id_connect_provider = add_client_id_to_open_id_connect_provider  # type: ignore[attr-defined]
    IamResponse.remove_client_id_from_open_id_connect_provider = remove_client_id_from_open_id_connect_provider  # type: ignore[attr-defined]
    IamResponse.get_account_authorization_details = get_account_authorization_details  # type: ignore[method-assign]
