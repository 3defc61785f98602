"""EKS status transitions and update operations (moto 5.2.5 gaps).

- A new cluster is ``CREATING`` over the configured delay, then ``ACTIVE``
  (moto: ``ACTIVE`` at once); its endpoint and certificate appear when
  ``ACTIVE``, as in AWS. Each cluster gets its own OIDC issuer
  (``identity.oidc.issuer``; moto shares one per process).
- A retried ``CreateCluster``/``CreateNodegroup`` with the same
  ``clientRequestToken`` answers the existing object (idempotency).
- ``resourcesVpcConfig`` reads back with AWS's defaults (public endpoint,
  ``0.0.0.0/0``, no private endpoint).
- ``UpdateClusterConfig`` merges the given VPC settings (moto replaces all)
  and answers an ``update``; ``UpdateClusterVersion`` (one minor version
  at a time), ``AssociateEncryptionConfig`` and ``DescribeUpdate`` are
  added. An update is ``InProgress`` (cluster ``UPDATING``) for the delay,
  then ``Successful``. Updates need an ``ACTIVE`` cluster
  (``ResourceInUseException``).
- ``DeleteCluster`` with node groups answers ``ResourceInUseException``
  (moto's); a deleted cluster or node group is ``DELETING`` for the delay,
  then gone. Node groups are ``CREATING`` then ``ACTIVE``, and
  ``UPDATING`` during a config update.
- TagResource/UntagResource/ListTagsForResource work on node groups too
  (moto: clusters only).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.eks import urls as eks_urls
from moto.eks.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from moto.eks.models import EKSBackend
from moto.eks.responses import EKSResponse

from . import runtime

_ORIGINAL: dict[str, Any] = {}
_UPDATES: dict[tuple[str, str], dict[str, Any]] = {}

VPC_DEFAULTS = {
    "endpointPublicAccess": True,
    "endpointPrivateAccess": False,
    "publicAccessCidrs": ["0.0.0.0/0"],
}


def _after(seconds: float, done: Any) -> None:
    """Run ``done`` under the runtime lock after ``seconds`` (at once when 0)."""
    if seconds <= 0:
        with runtime.LOCK:
            done()
        return

    def run() -> None:
        time.sleep(seconds)
        with runtime.LOCK:
            done()

    threading.Thread(target=run, daemon=True).start()


def _not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        clusterName=name,
        nodegroupName=None,
        fargateProfileName=None,
        addonName=None,
        message=f"No cluster found for name: {name}.",
    )


def _cluster(self: EKSBackend, name: str) -> Any:
    cluster = self.clusters.get(name)
    if cluster is None:
        raise _not_found(name)
    return cluster


def _create_cluster(self: EKSBackend, name: str, *args: Any, **kwargs: Any) -> Any:
    token = kwargs.get("client_request_token")
    existing = self.clusters.get(name)
    if existing is not None and token and existing.client_request_token == token:
        return existing
    cluster = _ORIGINAL["create_cluster"](self, *args, name=name, **kwargs)
    cluster.resources_vpc_config = {**VPC_DEFAULTS, **(cluster.resources_vpc_config or {})}
    cluster.identity = {
        "oidc": {"issuer": f"https://oidc.eks.{self.region_name}.amazonaws.com/id/{uuid.uuid4().hex.upper()}"}
    }
    endpoint, ca = cluster.endpoint, cluster.certificate_authority
    if runtime.delay_seconds() > 0:
        cluster.status = "CREATING"
        cluster.endpoint, cluster.certificate_authority = None, {}

        def active() -> None:
            if cluster.status == "CREATING":
                cluster.status = "ACTIVE"
                cluster.endpoint, cluster.certificate_authority = endpoint, ca

        _after(runtime.delay_seconds(), active)
    return cluster


def _delete_cluster(self: EKSBackend, name: str) -> Any:
    cluster = self.clusters.get(name)
    if cluster is not None and cluster.status == "DELETING":
        return cluster
    if cluster is not None and cluster.status in ("CREATING", "UPDATING"):
        raise ResourceInUseException(
            clusterName=name,
            nodegroupName=None,
            addonName=None,
            message=f"Cluster {name} is currently being {cluster.status.lower()[:-3]}ed",
        )
    removed = _ORIGINAL["delete_cluster"](self, name)
    if runtime.delay_seconds() > 0:
        removed.status = "DELETING"
        self.clusters[name] = removed

        def gone() -> None:
            if self.clusters.get(name) is removed:
                del self.clusters[name]

        _after(runtime.delay_seconds(), gone)
    return removed


def _create_nodegroup(self: EKSBackend, cluster_name: str, nodegroup_name: str, *args: Any, **kwargs: Any) -> Any:
    cluster = self.clusters.get(cluster_name)
    token = kwargs.get("client_request_token")
    if cluster is not None:
        existing = cluster.nodegroups.get(nodegroup_name)
        if existing is not None and token and getattr(existing, "client_request_token", None) == token:
            return existing
    ng = _ORIGINAL["create_nodegroup"](self, *args, cluster_name=cluster_name, nodegroup_name=nodegroup_name, **kwargs)
    if runtime.delay_seconds() > 0:
        ng.status = "CREATING"

        def active() -> None:
            if ng.status == "CREATING":
                ng.status = "ACTIVE"

        _after(runtime.delay_seconds(), active)
    return ng


def _delete_nodegroup(self: EKSBackend, cluster_name: str, nodegroup_name: str) -> Any:
    cluster = self.clusters.get(cluster_name)
    ng = cluster.nodegroups.get(nodegroup_name) if cluster is not None else None
    if ng is not None and ng.status == "DELETING":
        return ng
    removed = _ORIGINAL["delete_nodegroup"](self, cluster_name, nodegroup_name)
    if runtime.delay_seconds() > 0 and cluster is not None:
        removed.status = "DELETING"
        cluster.nodegroups[nodegroup_name] = removed
        cluster.nodegroup_count += 1

        def gone() -> None:
            if cluster.nodegroups.get(nodegroup_name) is removed:
                del cluster.nodegroups[nodegroup_name]
                cluster.nodegroup_count -= 1

        _after(runtime.delay_seconds(), gone)
    return removed


def _start_update(cluster: Any, kind: str, params: list[dict[str, str]], apply: Any, target: Any = None) -> dict[str, Any]:
    """An update ``InProgress`` (``target`` UPDATING) that applies after the delay."""
    obj = target if target is not None else cluster
    if obj.status != "ACTIVE":
        raise ResourceInUseException(
            clusterName=cluster.name,
            nodegroupName=None,
            addonName=None,
            message=f"Cluster {cluster.name} is not in ACTIVE status (it is {obj.status})",
        )
    update = {
        "id": str(uuid.uuid4()),
        "status": "InProgress",
        "type": kind,
        "params": params,
        "createdAt": utcnow(),
        "errors": [],
    }
    _UPDATES[(cluster.name, update["id"])] = update
    obj.status = "UPDATING"

    def done() -> None:
        apply()
        update["status"] = "Successful"
        if obj.status == "UPDATING":
            obj.status = "ACTIVE"

    _after(runtime.delay_seconds(), done)
    return update


def _update_cluster_config(self: EKSResponse) -> Any:
    name = self._get_param("name")
    cluster = _cluster(self.eks_backend, name)
    vpc = self._get_param("resourcesVpcConfig") or {}
    logging = self._get_param("logging")

    def apply() -> None:
        cluster.resources_vpc_config = {**cluster.resources_vpc_config, **vpc}
        if logging:
            cluster.logging = logging

    params = [{"type": k[0].upper() + k[1:], "value": json.dumps(v)} for k, v in vpc.items()]
    update = _start_update(cluster, "EndpointAccessUpdate" if vpc else "LoggingUpdate", params, apply)
    return ActionResult({"update": update})


def _minor(version: str) -> tuple[int, int] | None:
    try:
        major, minor = version.split(".")
        return int(major), int(minor)
    except ValueError:
        return None


def _update_cluster_version(self: EKSResponse) -> Any:
    name = self._get_param("name")
    cluster = _cluster(self.eks_backend, name)
    version = self._get_param("version")
    old, new = _minor(cluster.version), _minor(version or "")
    if old is None or new is None or new[0] != old[0] or new[1] != old[1] + 1:
        raise InvalidParameterException(
            clusterName=name,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message=f"Unsupported Kubernetes minor version update from {cluster.version} to {version}",
        )

    def apply() -> None:
        cluster.version = version

    update = _start_update(
        cluster,
        "VersionUpdate",
        [{"type": "Version", "value": version}, {"type": "PlatformVersion", "value": "eks.1"}],
        apply,
    )
    return ActionResult({"update": update})


def _associate_encryption_config(self: EKSResponse) -> Any:
    name = self._get_param("name")
    cluster = _cluster(self.eks_backend, name)
    config = self._get_param("encryptionConfig") or []
    if cluster.encryption_config:
        raise InvalidRequestException(
            clusterName=name,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message="Encryption is already enabled on the cluster",
        )

    def apply() -> None:
        cluster.encryption_config = config

    update = _start_update(
        cluster,
        "AssociateEncryptionConfig",
        [{"type": "EncryptionConfig", "value": json.dumps(config)}],
        apply,
    )
    return ActionResult({"update": update})


def _describe_update(self: EKSResponse) -> Any:
    name = self._get_param("name")
    update_id = self._get_param("updateId")
    _cluster(self.eks_backend, name)
    update = _UPDATES.get((name, update_id))
    if update is None:
        raise ResourceNotFoundException(
            clusterName=name,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message=f"No update found for ID: {update_id}",
        )
    return ActionResult({"update": update})


def _update_nodegroup_config(self: EKSBackend, cluster_name: str, nodegroup_name: str, **kwargs: Any) -> Any:
    cluster = self.clusters.get(cluster_name)
    ng = cluster.nodegroups.get(nodegroup_name) if cluster is not None else None
    if ng is None:
        return _ORIGINAL["update_nodegroup_config"](self, cluster_name, nodegroup_name, **kwargs)
    answer: dict[str, Any] = {}

    def apply() -> None:
        answer.update(_ORIGINAL["update_nodegroup_config"](self, cluster_name, nodegroup_name, **kwargs))

    update = _start_update(cluster, "ConfigUpdate", [], apply, target=ng)
    return update


def _tagged(self: EKSBackend, arn: str) -> Any:
    """The cluster or node group whose ARN is ``arn``."""
    for cluster in self.clusters.values():
        if cluster.arn == arn:
            return cluster
        for ng in cluster.nodegroups.values():
            if ng.arn == arn:
                return ng
    raise ResourceNotFoundException(
        clusterName=None,
        nodegroupName=None,
        fargateProfileName=None,
        addonName=None,
        message="Resource was not found",
    )


def _tag_resource(self: EKSBackend, resource_arn: str, tags: dict[str, str]) -> None:
    _tagged(self, resource_arn).tags.update(tags)


def _untag_resource(self: EKSBackend, resource_arn: str, tag_keys: Any) -> None:
    obj = _tagged(self, resource_arn)
    for key in tag_keys if isinstance(tag_keys, list) else [tag_keys]:
        obj.tags.pop(key, None)


def _list_tags_for_resource(self: EKSBackend, resource_arn: str) -> dict[str, str]:
    return _tagged(self, resource_arn).tags


def install() -> None:
    if _ORIGINAL:
        return
    for op in ("create_cluster", "delete_cluster", "create_nodegroup", "delete_nodegroup", "update_nodegroup_config"):
        _ORIGINAL[op] = getattr(EKSBackend, op)
    EKSBackend.create_cluster = _create_cluster  # type: ignore[method-assign]
    EKSBackend.delete_cluster = _delete_cluster  # type: ignore[method-assign]
    EKSBackend.create_nodegroup = _create_nodegroup  # type: ignore[method-assign]
    EKSBackend.delete_nodegroup = _delete_nodegroup  # type: ignore[method-assign]
    EKSBackend.update_nodegroup_config = _update_nodegroup_config  # type: ignore[method-assign]
    EKSBackend.tag_resource = _tag_resource  # type: ignore[method-assign]
    EKSBackend.untag_resource = _untag_resource  # type: ignore[method-assign]
    EKSBackend.list_tags_for_resource = _list_tags_for_resource  # type: ignore[method-assign]
    EKSResponse.update_cluster_config = _update_cluster_config  # type: ignore[method-assign]
    EKSResponse.update_cluster_version = _update_cluster_version  # type: ignore[attr-defined]
    EKSResponse.associate_encryption_config = _associate_encryption_config  # type: ignore[attr-defined]
    EKSResponse.describe_update = _describe_update  # type: ignore[attr-defined]
    dispatch = eks_urls.response.dispatch
    eks_urls.url_paths["{0}/clusters/(?P<name>[^/]+)/updates$"] = dispatch
    eks_urls.url_paths["{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$"] = dispatch
    eks_urls.url_paths["{0}/clusters/(?P<name>[^/]+)/encryption-config/associate$"] = dispatch
