"""IAM operations moto 5.2.5 lacks.

* ``AddClientIDToOpenIDConnectProvider`` / ``RemoveClientIDFromOpenIDConnectProvider``:
  both idempotent, as the API reference says (adding a client id already
  there, or removing one that is not, is no error); an unknown provider ARN
  is ``NoSuchEntity``; a client id is 1 to 255 characters and a provider has
  at most 100.
* AWS managed policies (``arn:aws:iam::aws:policy/...``, e.g.
  ``AmazonEKSClusterPolicy``) exist, as in every account: moto 5 loads its
  copy of them only when ``MOTO_IAM_LOAD_MANAGED_POLICIES`` is true.
"""

from __future__ import annotations

import os

from moto.core.responses import EmptyResult
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


def install() -> None:
    # Read when an account's IAM backend is first made, after this.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    IamResponse.add_client_id_to_open_id_connect_provider = add_client_id_to_open_id_connect_provider  # type: ignore[attr-defined]
    IamResponse.remove_client_id_from_open_id_connect_provider = remove_client_id_from_open_id_connect_provider  # type: ignore[attr-defined]
