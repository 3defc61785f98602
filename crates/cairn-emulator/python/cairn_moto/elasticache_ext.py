"""ElastiCache extensions for moto 5.2.5.

moto 5.2.5 implements replication groups only as static records (always
``available``, ``ModifyReplicationGroup`` knows five fields, no shard/replica
operations) and has no cache parameter group operations at all.  This module
replaces / adds the handlers on ``ElastiCacheResponse`` (moto routes actions to
methods by name) and keeps its own models in the moto backend, so responses are
still serialized by moto's botocore-model-driven XML serializer.
"""

from __future__ import annotations

import datetime
import random
import re
import string
import threading
import time
from typing import Any, Callable

from moto.core.responses import ActionResult, EmptyResult
from moto.elasticache.exceptions import (
    CacheClusterNotFound,
    CacheSubnetGroupNotFound,
    ElastiCacheException,
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    ReplicationGroupAlreadyExists,
    ReplicationGroupNotFound,
)
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse

from . import params as P
from . import runtime, twin as twin_mod

# --------------------------------------------------------------------------- errors


class CacheParameterGroupNotFound(ElastiCacheException):
    code = "CacheParameterGroupNotFound"

    def __init__(self, name: str):
        super().__init__(f"CacheParameterGroup {name} not found.")


class CacheParameterGroupAlreadyExists(ElastiCacheException):
    code = "CacheParameterGroupAlreadyExists"

    def __init__(self, name: str):
        super().__init__(f"Parameter group {name} already exists.")


class InvalidCacheParameterGroupState(ElastiCacheException):
    code = "InvalidCacheParameterGroupState"


class InvalidReplicationGroupState(ElastiCacheException):
    code = "InvalidReplicationGroupState"


class InvalidCacheClusterState(ElastiCacheException):
    code = "InvalidCacheClusterState"


class NodeGroupNotFound(ElastiCacheException):
    code = "NodeGroupNotFoundFault"

    def __init__(self, node_group_id: str):
        super().__init__(f"NodeGroup {node_group_id} not found.")


class CacheSubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"


class InvalidVPCNetworkState(ElastiCacheException):
    code = "InvalidVPCNetworkStateFault"


def _ipv(msg: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(msg)


def _ipc(msg: str) -> InvalidParameterCombinationException:
    return InvalidParameterCombinationException(msg)


# --------------------------------------------------------------------------- helpers

ID_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
NODE_TYPE_RE = re.compile(r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
SNAPSHOT_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
MAINT_WINDOW_RE = re.compile(
    r"^(sun|mon|tue|wed|thu|fri|sat):([01]\d|2[0-3]):[0-5]\d-(sun|mon|tue|wed|thu|fri|sat):([01]\d|2[0-3]):[0-5]\d$"
)
AUTH_TOKEN_FORBIDDEN = set('/"@%')
MAX_REPLICAS = 5
TOTAL_SLOTS = 16384


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def check_identifier(value: str | None, what: str, max_len: int) -> str:
    if not value:
        raise _ipv(f"The parameter {what} must be provided and must not be blank.")
    if (
        len(value) > max_len
        or not ID_RE.match(value)
        or value.endswith("-")
        or "--" in value
    ):
        raise _ipv(
            f"Invalid {what}: {value}. It must contain 1 to {max_len} alphanumeric characters "
            "or hyphens, begin with a letter, and not end with a hyphen or contain two consecutive hyphens."
        )
    return value


def engine_family(engine: str, version: str) -> str | None:
    if engine == "valkey":
        if version.startswith("7."):
            return "valkey7"
        if version.startswith("8."):
            return "valkey8"
        return None
    if version.startswith("7"):
        return "redis7"
    if version.startswith("6"):
        return "redis6.x"
    if version.startswith("5.0"):
        return "redis5.0"
    if version.startswith("4.0"):
        return "redis4.0"
    return None


def full_version(version: str) -> str:
    """The version as ElastiCache reports it: Redis/Valkey 7+ `7.1` is stored as `7.1.0`."""
    parts = version.split(".")
    if parts[0].isdigit() and int(parts[0]) >= 7 and len(parts) == 2 and parts[1].isdigit():
        return f"{version}.0"
    return version


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def check_auth_token(token: str) -> None:
    if not 16 <= len(token) <= 128:
        raise _ipv("The AuthToken must be between 16 and 128 characters long.")
    if any(c in AUTH_TOKEN_FORBIDDEN or not (32 < ord(c) < 127) for c in token):
        raise _ipv(
            "The AuthToken must contain only printable ASCII characters and must not contain '/', '\"', '@' or '%'."
        )


def even_slots(n: int) -> list[tuple[int, int]]:
    return [(i * TOTAL_SLOTS // n, (i + 1) * TOTAL_SLOTS // n - 1) for i in range(n)]


def paginate(items: list[Any], max_records: Any, marker: Any) -> tuple[list[Any], str | None]:
    try:
        start = int(marker) if marker else 0
    except ValueError:
        raise _ipv(f"Invalid marker: {marker}")
    limit = int(max_records) if max_records else 100
    limit = max(1, min(limit, 100))
    page = items[start : start + limit]
    nxt = str(start + limit) if start + limit < len(items) else None
    return page, nxt


def region_short(region: str) -> str:
    parts = region.split("-")
    if len(parts) == 3:
        return f"{parts[0]}{parts[1][0]}{parts[2]}"
    return region


# --------------------------------------------------------------------------- models


class ParamGroup:
    def __init__(self, name: str, family: str, description: str, region: str, account: str):
        self.name = name
        self.family = family
        self.description = description
        self.is_default = name.startswith("default.")
        self.user_values: dict[str, str] = {}
        self.arn = f"arn:aws:elasticache:{region}:{account}:parametergroup:{name}"

    def effective(self) -> dict[str, str]:
        vals = P.family_defaults(self.family, self.name)
        vals.update(self.user_values)
        return vals

    def to_dict(self) -> dict[str, Any]:
        return {
            "CacheParameterGroupName": self.name,
            "CacheParameterGroupFamily": self.family,
            "Description": self.description,
            "IsGlobal": False,
            "ARN": self.arn,
        }

    def parameters(self) -> list[dict[str, Any]]:
        out = []
        for p in P.catalogue(self.family):
            p = dict(p)
            if p["ParameterName"] in self.user_values:
                p["ParameterValue"] = self.user_values[p["ParameterName"]]
                p["Source"] = "user"
            else:
                if p["ParameterName"] == "cluster-enabled":
                    p["ParameterValue"] = self.effective()["cluster-enabled"]
                p["Source"] = "system"
            if p["ParameterValue"] == "":
                p.pop("ParameterValue")
            out.append(p)
        return out

    def node_type_specific(self) -> list[dict[str, Any]]:
        if self.family.startswith("memcached"):
            return []
        return [
            {
                "ParameterName": "maxmemory",
                "Description": "The maximum configurable amount of memory to use to store items, in bytes.",
                "Source": "system",
                "DataType": "integer",
                "AllowedValues": "0-",
                "IsModifiable": False,
                "MinimumEngineVersion": "2.8.0",
                "ChangeType": "immediate",
                "CacheNodeTypeSpecificValues": [
                    {"CacheNodeType": k, "Value": v} for k, v in P.MAXMEMORY_BY_NODE_TYPE.items()
                ],
            }
        ]


class Shard:
    def __init__(self, node_group_id: str, replicas: int, slots: tuple[int, int] | None):
        self.id = node_group_id
        self.replicas = replicas
        self.slots = slots


class ReplicationGroup:
    """Our replication group model (replaces moto's in ``backend.replication_groups``)."""

    def __init__(self, ext: "Ext", **kw: Any):
        self.ext = ext
        self.replication_group_id: str = kw["replication_group_id"]
        self.description: str = kw["description"]
        self.status = "creating"
        self.engine: str = kw["engine"]
        self.engine_version: str = kw["engine_version"]
        self.cache_node_type: str = kw["cache_node_type"]
        self.cluster_mode: bool = kw["cluster_mode"]
        # "compatible" while clients migrate from cluster mode disabled to enabled.
        self.cluster_mode_setting: str = kw.get("cluster_mode_setting") or (
            "enabled" if self.cluster_mode else "disabled"
        )
        self.shards: list[Shard] = kw["shards"]
        self.automatic_failover: bool = kw["automatic_failover"]
        self.multi_az: bool = kw["multi_az"]
        self.transit_encryption_enabled: bool = kw["transit_encryption_enabled"]
        self.at_rest_encryption_enabled: bool = kw["at_rest_encryption_enabled"]
        self.kms_key_id: str | None = kw["kms_key_id"]
        self.auth_tokens: list[str] = kw["auth_tokens"]
        # "required" or "preferred" while TLS is on; None when off.
        self.transit_encryption_mode: str | None = kw.get("transit_encryption_mode")
        self.user_group_ids: list[str] = []
        self.auth_token_last_modified = _now() if self.auth_tokens else None
        self.cache_parameter_group_name: str = kw["cache_parameter_group_name"]
        self.cache_subnet_group_name: str | None = kw["cache_subnet_group_name"]
        self.security_group_ids: list[str] = kw["security_group_ids"]
        self.port: int = kw["port"]
        self.snapshot_retention_limit: int = kw["snapshot_retention_limit"]
        self.snapshot_window: str = kw["snapshot_window"]
        self.preferred_maintenance_window: str = kw["preferred_maintenance_window"]
        self.auto_minor_version_upgrade: bool = kw["auto_minor_version_upgrade"]
        self.network_type: str = kw["network_type"]
        self.ip_discovery: str = kw["ip_discovery"]
        self.azs: list[str] = kw["azs"]
        self.arn = f"arn:aws:elasticache:{ext.region}:{ext.account}:replicationgroup:{self.replication_group_id}"
        self.created = _now()
        rnd = "".join(random.choices(string.ascii_lowercase + string.digits, k=6))
        self.domain = f"{self.replication_group_id}.{rnd}.{region_short(ext.region)}.cache.amazonaws.com"
        self.pending: dict[str, Any] = {}
        self.twin_error: str | None = None
        # Members still settling after a replica change: id -> "creating" or
        # "deleting", until ``lag_until`` (None: until the group is available).
        self.lagging: dict[str, str] = {}
        self.lag_until: float | None = None

    # attributes read by moto's create_snapshot
    @property
    def node_groups(self) -> list[Shard]:
        return self.shards

    @property
    def cache_subnet_group(self) -> str | None:
        return self.cache_subnet_group_name

    @property
    def arn_id(self) -> str:
        return self.replication_group_id

    def members(self, shard: Shard) -> list[str]:
        rid = self.replication_group_id
        if self.cluster_mode:
            return [f"{rid}-{shard.id}-{i + 1:03d}" for i in range(shard.replicas + 1)]
        return [f"{rid}-{i + 1:03d}" for i in range(shard.replicas + 1)]

    def member_clusters(self) -> list[str]:
        return [m for s in self.shards for m in self.members(s)]

    def member_status(self, cid: str) -> str | None:
        """``creating``/``deleting`` while a member settles after the group is available."""
        if cid not in self.lagging:
            return None
        if self.lag_until is not None and time.monotonic() >= self.lag_until:
            self.lagging = {}
            return None
        return self.lagging[cid]

    def unsettled_member(self) -> tuple[str, str] | None:
        for cid in list(self.lagging):
            status = self.member_status(cid)
            if status is not None:
                return cid, status
        return None

    def az_of(self, index: int) -> str:
        return self.azs[index % len(self.azs)]

    def twin(self) -> twin_mod.Twin | None:
        mgr = twin_mod.manager()
        if mgr is None:
            return None
        t = mgr.get(self.replication_group_id)
        if t is not None and all(n.alive() for n in t.nodes):
            return t
        return None

    def endpoint(self, kind: str, cache_cluster_id: str | None = None) -> dict[str, Any]:
        """Endpoint for ``kind`` in (config, primary, reader, node).

        With a live twin the endpoint is the twin's real loopback address/port;
        otherwise a fake AWS-style DNS name with the requested Port.
        """
        t = self.twin()
        if t is not None:
            if kind in ("config", "primary"):
                port = t.primary_port()
            elif kind == "reader":
                port = t.reader_port()
            else:
                port = t.port_of(cache_cluster_id or "") or t.primary_port()
            return {"Address": "127.0.0.1", "Port": port}
        prefix = {"config": "clustercfg", "primary": "master", "reader": "replica"}.get(kind)
        address = f"{prefix}.{self.domain}" if prefix else f"{cache_cluster_id}.{self.domain}"
        return {"Address": address, "Port": self.port}

    def to_dict(self) -> dict[str, Any]:
        ready = self.status not in ("creating",)
        node_groups = []
        az_index = 0
        for shard in self.shards:
            members = []
            for i, cid in enumerate(self.members(shard)):
                m: dict[str, Any] = {
                    "CacheClusterId": cid,
                    "CacheNodeId": "0001",
                    "PreferredAvailabilityZone": self.az_of(az_index),
                }
                az_index += 1
                if not self.cluster_mode:
                    m["CurrentRole"] = "primary" if i == 0 else "replica"
                    if ready:
                        m["ReadEndpoint"] = self.endpoint("node", cid)
                members.append(m)
            ng: dict[str, Any] = {
                "NodeGroupId": shard.id,
                "Status": "available" if self.status == "available" else self.status,
                "NodeGroupMembers": members,
            }
            if self.cluster_mode and shard.slots:
                ng["Slots"] = f"{shard.slots[0]}-{shard.slots[1]}"
            if not self.cluster_mode and ready:
                ng["PrimaryEndpoint"] = self.endpoint("primary")
                ng["ReaderEndpoint"] = self.endpoint("reader")
            node_groups.append(ng)
        d: dict[str, Any] = {
            "ReplicationGroupId": self.replication_group_id,
            "Description": self.description,
            "Status": self.status,
            "PendingModifiedValues": dict(self.pending),
            "MemberClusters": self.member_clusters(),
            "NodeGroups": node_groups,
            "AutomaticFailover": "enabled" if self.automatic_failover else "disabled",
            "MultiAZ": "enabled" if self.multi_az else "disabled",
            "SnapshotRetentionLimit": self.snapshot_retention_limit,
            "SnapshotWindow": self.snapshot_window,
            "ClusterEnabled": self.cluster_mode,
            "CacheNodeType": self.cache_node_type,
            "AuthTokenEnabled": bool(self.auth_tokens),
            "TransitEncryptionEnabled": self.transit_encryption_enabled,
            "AtRestEncryptionEnabled": self.at_rest_encryption_enabled,
            "ARN": self.arn,
            "UserGroupIds": list(self.user_group_ids),
            "LogDeliveryConfigurations": [],
            "ReplicationGroupCreateTime": self.created,
            "DataTiering": "disabled",
            "AutoMinorVersionUpgrade": self.auto_minor_version_upgrade,
            "NetworkType": self.network_type,
            "IpDiscovery": self.ip_discovery,
            "ClusterMode": self.cluster_mode_setting,
            "Engine": self.engine,
        }
        if self.transit_encryption_enabled:
            d["TransitEncryptionMode"] = self.transit_encryption_mode or "required"
        if self.auth_token_last_modified is not None:
            d["AuthTokenLastModifiedDate"] = self.auth_token_last_modified
        if self.kms_key_id:
            d["KmsKeyId"] = self.kms_key_id
        if self.cluster_mode and ready:
            d["ConfigurationEndpoint"] = self.endpoint("config")
        if self.snapshot_retention_limit > 0 and not self.cluster_mode:
            members = self.member_clusters()
            d["SnapshottingClusterId"] = members[1] if len(members) > 1 else members[0]
        return d

    def cache_clusters(self, show_node_info: bool) -> list[dict[str, Any]]:
        status = {"creating": "creating", "deleting": "deleting", "modifying": "modifying"}.get(
            self.status, "available"
        )
        out = []
        index = 0
        for shard in self.shards:
            for cid in self.members(shard):
                az = self.az_of(index)
                index += 1
                c: dict[str, Any] = {
                    "CacheClusterId": cid,
                    "CacheNodeType": self.cache_node_type,
                    "Engine": self.engine,
                    "EngineVersion": self.engine_version,
                    "CacheClusterStatus": self.member_status(cid) or status,
                    "NumCacheNodes": 1,
                    "PreferredAvailabilityZone": az,
                    "CacheClusterCreateTime": self.created,
                    "PreferredMaintenanceWindow": self.preferred_maintenance_window,
                    "PendingModifiedValues": {},
                    "CacheSecurityGroups": [],
                    "CacheParameterGroup": {
                        "CacheParameterGroupName": self.cache_parameter_group_name,
                        "ParameterApplyStatus": "in-sync",
                        "CacheNodeIdsToReboot": [],
                    },
                    "CacheSubnetGroupName": self.cache_subnet_group_name,
                    "AutoMinorVersionUpgrade": self.auto_minor_version_upgrade,
                    "SecurityGroups": [
                        {"SecurityGroupId": sg, "Status": "active"} for sg in self.security_group_ids
                    ],
                    "ReplicationGroupId": self.replication_group_id,
                    "SnapshotRetentionLimit": self.snapshot_retention_limit,
                    "SnapshotWindow": self.snapshot_window,
                    "AuthTokenEnabled": bool(self.auth_tokens),
                    "TransitEncryptionEnabled": self.transit_encryption_enabled,
                    "AtRestEncryptionEnabled": self.at_rest_encryption_enabled,
                    "ARN": f"arn:aws:elasticache:{self.ext.region}:{self.ext.account}:cluster:{cid}",
                    "ReplicationGroupLogDeliveryEnabled": False,
                    "LogDeliveryConfigurations": [],
                    "NetworkType": self.network_type,
                    "IpDiscovery": self.ip_discovery,
                }
                if self.auth_token_last_modified is not None:
                    c["AuthTokenLastModifiedDate"] = self.auth_token_last_modified
                if self.transit_encryption_enabled:
                    c["TransitEncryptionMode"] = "required"
                if show_node_info:
                    # The node endpoint always reports the *requested* Port (the
                    # replication group's Port property); connect via the
                    # replication group's endpoints, which point at the twin.
                    c["CacheNodes"] = [
                        {
                            "CacheNodeId": "0001",
                            "CacheNodeStatus": status,
                            "CacheNodeCreateTime": self.created,
                            "Endpoint": {"Address": f"{cid}.{self.domain}", "Port": self.port},
                            "ParameterGroupStatus": "in-sync",
                            "CustomerAvailabilityZone": az,
                        }
                    ]
                out.append(c)
        # Removed members are listed as deleting while they settle.
        for cid in list(self.lagging):
            if cid not in self.member_clusters() and self.member_status(cid) == "deleting" and out:
                gone = dict(out[-1])
                gone.pop("CacheNodes", None)
                gone["CacheClusterId"] = cid
                gone["CacheClusterStatus"] = "deleting"
                gone["ARN"] = f"arn:aws:elasticache:{self.ext.region}:{self.ext.account}:cluster:{cid}"
                out.append(gone)
        return out

    def twin_spec(self) -> dict[str, Any]:
        shards = []
        for shard in self.shards:
            members = [
                {"cache_cluster_id": cid, "role": "primary" if i == 0 else "replica"}
                for i, cid in enumerate(self.members(shard))
            ]
            shards.append(
                {
                    "id": shard.id,
                    "members": members,
                    "slot_ranges": [list(shard.slots)] if shard.slots else [],
                }
            )
        pg = self.ext.param_groups.get(self.cache_parameter_group_name)
        return {
            "id": self.replication_group_id,
            "cluster_mode": self.cluster_mode,
            "shards": shards,
            "tls": self.transit_encryption_enabled,
            "tokens": list(self.auth_tokens),
            "params": pg.effective() if pg else {},
            "requested_port": self.port,
        }


class Ext:
    """Per-(account, region) extension state hung off the moto backend."""

    def __init__(self, backend: ElastiCacheBackend):
        self.backend = backend
        self.region = backend.region_name
        self.account = backend.account_id
        self.param_groups: dict[str, ParamGroup] = {}
        # subnet group name -> monotonic time until which it still reads as in use
        self.subnet_groups_released: dict[str, float] = {}
        for name, family in P.DEFAULT_GROUPS:
            self.param_groups[name] = ParamGroup(
                name, family, f"Default parameter group for {family}", self.region, self.account
            )
        # allow ListTagsForResource on parameter groups as well
        backend.arn_regex = re.compile(
            r"^arn:aws:elasticache:.*:[0-9]*:(cluster|snapshot|subnetgroup|replicationgroup|user|parametergroup):.*$"
        )

    @property
    def rgs(self) -> dict[str, Any]:
        return self.backend.replication_groups

    def ours(self) -> list[ReplicationGroup]:
        return [rg for rg in self.rgs.values() if isinstance(rg, ReplicationGroup)]

    def get_rg(self, rg_id: str | None) -> ReplicationGroup:
        rg = self.rgs.get((rg_id or "").lower())
        if not isinstance(rg, ReplicationGroup):
            raise ReplicationGroupNotFound(rg_id or "")
        return rg

    def get_pg(self, name: str | None) -> ParamGroup:
        pg = self.param_groups.get(name or "")
        if pg is None:
            raise CacheParameterGroupNotFound(name or "")
        return pg

    def pg_in_use(self, name: str) -> list[ReplicationGroup]:
        return [rg for rg in self.ours() if rg.cache_parameter_group_name == name]

    def check_security_groups(self, ids: list[str]) -> None:
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[self.account][self.region]
        for sg in ids:
            if ec2.get_security_group_from_id(sg) is None:
                raise _ipv(f"Some of the security group IDs provided are invalid: {sg}")

    def subnet_azs(self, subnet_group: str | None) -> list[str]:
        if not subnet_group:
            return [f"{self.region}a", f"{self.region}b", f"{self.region}c"]
        sg = self.backend.cache_subnet_groups.get(subnet_group)
        if sg is None:
            raise CacheSubnetGroupNotFound(subnet_group)
        azs: list[str] = []
        for s in sg.subnets:
            az = s.get("subnet_availability_zone") or s.get("Subnet_availability_zone")
            if isinstance(az, dict):
                az = az.get("Name")
            if az and az not in azs:
                azs.append(az)
        return azs or [f"{self.region}a", f"{self.region}b"]


_EXT_LOCK = threading.Lock()


def ext_of(backend: ElastiCacheBackend) -> Ext:
    with _EXT_LOCK:
        e = getattr(backend, "_cairn_ext", None)
        if e is None:
            e = Ext(backend)
            backend._cairn_ext = e  # type: ignore[attr-defined]
        return e


# --------------------------------------------------------------------------- transitions


def _after_delay(work: Callable[[], None], done: Callable[[], None]) -> None:
    """Run ``work`` (e.g. twin changes) and ``done`` after the configured delay."""
    delay = runtime.delay_seconds()

    def run() -> None:
        start = time.time()
        try:
            work()
        except Exception as e:  # noqa: BLE001
            twin_mod.log(f"transition work failed: {e}")
        remaining = delay - (time.time() - start)
        if remaining > 0:
            time.sleep(remaining)
        with runtime.LOCK:
            done()

    threading.Thread(target=run, daemon=True).start()


def _start_twin(rg: ReplicationGroup) -> None:
    mgr = twin_mod.manager()
    if mgr is None or not runtime.twin_enabled():
        return
    try:
        with runtime.LOCK:
            spec = rg.twin_spec()
        mgr.start(spec)
        rg.twin_error = None
    except Exception as e:  # noqa: BLE001
        rg.twin_error = str(e)
        twin_mod.log(f"twin for {rg.replication_group_id} failed: {e}")


def _finish_available(rg: ReplicationGroup) -> Callable[[], None]:
    def done() -> None:
        if rg.status in ("creating", "modifying"):
            rg.status = "available"
            rg.pending = {}
            # Members changed by a replica change settle member_lag_ms later.
            lag = max(0, int(runtime.CONFIG.get("member_lag_ms", 0))) / 1000.0
            rg.lag_until = time.monotonic() + lag

    return done


# --------------------------------------------------------------------------- handlers

def _p(self: ElastiCacheResponse, name: str, default: Any = None) -> Any:
    return self._get_param(name, default)


def _bool(self: ElastiCacheResponse, name: str) -> bool | None:
    return self._get_bool_param(name)


def _int(self: ElastiCacheResponse, name: str) -> int | None:
    v = self._get_param(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        raise _ipv(f"Invalid value for {name}: {v}")


def _ext(self: ElastiCacheResponse) -> Ext:
    return ext_of(self.elasticache_backend)


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        value = list(value.values())
    return [str(v) for v in value]


# ---- cache parameter groups


def create_cache_parameter_group(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    name = check_identifier(_p(self, "CacheParameterGroupName"), "CacheParameterGroupName", 255)
    family = _p(self, "CacheParameterGroupFamily")
    description = _p(self, "Description")
    if not family:
        raise _ipv("The parameter CacheParameterGroupFamily must be provided and must not be blank.")
    if family not in P.FAMILIES:
        raise _ipv(f"Unrecognized cache parameter group family: {family}")
    if description is None:
        raise _ipv("The parameter Description must be provided.")
    with runtime.LOCK:
        if name in ext.param_groups:
            raise CacheParameterGroupAlreadyExists(name)
        pg = ParamGroup(name, family, description, ext.region, ext.account)
        ext.param_groups[name] = pg
        tags = _p(self, "Tags", [])
        if tags:
            ext.backend.tagging_service.tag_resource(pg.arn, tags)
        return ActionResult({"CacheParameterGroup": pg.to_dict()})


def describe_cache_parameter_groups(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    name = _p(self, "CacheParameterGroupName")
    with runtime.LOCK:
        if name:
            groups = [ext.get_pg(name)]
        else:
            groups = list(ext.param_groups.values())
        page, marker = paginate([g.to_dict() for g in groups], _p(self, "MaxRecords"), _p(self, "Marker"))
    result: dict[str, Any] = {"CacheParameterGroups": page}
    if marker:
        result["Marker"] = marker
    return ActionResult(result)


def describe_cache_parameters(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    source = _p(self, "Source")
    with runtime.LOCK:
        pg = ext.get_pg(_p(self, "CacheParameterGroupName"))
        params = pg.parameters()
        nts = pg.node_type_specific()
    if source:
        if source not in ("user", "system", "engine-default"):
            raise _ipv(f"Invalid value for Source: {source}. Valid values are user, system, engine-default.")
        if source == "engine-default":
            params = [dict(p, Source="engine-default") for p in params if p["Source"] == "system"]
        else:
            params = [p for p in params if p["Source"] == source]
            nts = [p for p in nts if p["Source"] == source]
    page, marker = paginate(params, _p(self, "MaxRecords"), _p(self, "Marker"))
    result: dict[str, Any] = {"Parameters": page}
    if marker is None:
        result["CacheNodeTypeSpecificParameters"] = nts
    else:
        result["Marker"] = marker
    return ActionResult(result)


def describe_engine_default_parameters(self: ElastiCacheResponse) -> ActionResult:
    family = _p(self, "CacheParameterGroupFamily")
    if family not in P.FAMILIES:
        raise _ipv(f"Unrecognized cache parameter group family: {family}")
    pg = ParamGroup(f"engine-default.{family}", family, "", "", "")
    params = [dict(p, Source="engine-default") for p in pg.parameters()]
    page, marker = paginate(params, _p(self, "MaxRecords"), _p(self, "Marker"))
    defaults: dict[str, Any] = {"CacheParameterGroupFamily": family, "Parameters": page}
    if marker:
        defaults["Marker"] = marker
    else:
        defaults["CacheNodeTypeSpecificParameters"] = pg.node_type_specific()
    return ActionResult({"EngineDefaults": defaults})


def _name_values(self: ElastiCacheResponse) -> list[dict[str, Any]]:
    raw = _p(self, "ParameterNameValues") or []
    if isinstance(raw, dict):
        raw = list(raw.values())
    return [dict(x) for x in raw]


def _push_params_to_twins(ext: Ext, pg: ParamGroup) -> None:
    effective = pg.effective()
    for rg in ext.pg_in_use(pg.name):
        t = rg.twin()
        if t is not None:
            try:
                t.apply_params(effective)
            except Exception as e:  # noqa: BLE001
                twin_mod.log(f"applying parameters to twin {rg.replication_group_id}: {e}")


def modify_cache_parameter_group(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    name = _p(self, "CacheParameterGroupName")
    values = _name_values(self)
    with runtime.LOCK:
        pg = ext.get_pg(name)
        if pg.is_default:
            raise _ipv(f"Default parameter group {name} cannot be modified.")
        if not values:
            raise _ipv("The parameter ParameterNameValues must be provided and must not be empty.")
        if len(values) > 20:
            raise _ipv("A maximum of 20 parameters can be modified in a single request.")
        index = P.catalogue_index(pg.family)
        updates: dict[str, str] = {}
        for nv in values:
            pname = nv.get("ParameterName")
            pvalue = nv.get("ParameterValue")
            if pname in ("maxmemory",) and not pg.family.startswith("memcached"):
                raise _ipv(f"Unmodifiable parameter: {pname}.")
            if pname not in index:
                raise _ipv(f"Parameter {pname} does not exist in parameter group family {pg.family}.")
            spec = index[pname]
            if not spec["IsModifiable"]:
                raise _ipv(f"Unmodifiable parameter: {pname}.")
            pvalue = "" if pvalue is None and pname == "notify-keyspace-events" else pvalue
            err = P.validate_value(spec, pvalue)
            if err:
                raise _ipv(err)
            updates[pname] = pvalue  # type: ignore[assignment]
        if "cluster-enabled" in updates and updates["cluster-enabled"] != pg.effective()["cluster-enabled"]:
            if ext.pg_in_use(pg.name):
                raise InvalidCacheParameterGroupState(
                    f"The parameter cluster-enabled cannot be modified while parameter group {name} is in use."
                )
        for k, v in updates.items():
            if v == P.family_defaults(pg.family, pg.name).get(k):
                pg.user_values.pop(k, None)
            else:
                pg.user_values[k] = v
        _push_params_to_twins(ext, pg)
        return ActionResult({"CacheParameterGroupName": pg.name})


def reset_cache_parameter_group(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    name = _p(self, "CacheParameterGroupName")
    reset_all = _bool(self, "ResetAllParameters")
    values = _name_values(self)
    with runtime.LOCK:
        pg = ext.get_pg(name)
        if pg.is_default:
            raise _ipv(f"Default parameter group {name} cannot be modified.")
        if reset_all and values:
            raise _ipc("ResetAllParameters and ParameterNameValues cannot both be specified.")
        if not reset_all and not values:
            raise _ipv("Either ResetAllParameters must be true or ParameterNameValues must be provided.")
        index = P.catalogue_index(pg.family)
        if reset_all:
            names = list(pg.user_values)
        else:
            names = []
            for nv in values:
                pname = nv.get("ParameterName")
                if pname not in index:
                    raise _ipv(f"Parameter {pname} does not exist in parameter group family {pg.family}.")
                names.append(pname)
        if "cluster-enabled" in names and "cluster-enabled" in pg.user_values and ext.pg_in_use(pg.name):
            raise InvalidCacheParameterGroupState(
                f"The parameter cluster-enabled cannot be reset while parameter group {name} is in use."
            )
        for n in names:
            pg.user_values.pop(n, None)
        _push_params_to_twins(ext, pg)
        return ActionResult({"CacheParameterGroupName": pg.name})


def delete_cache_parameter_group(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    name = _p(self, "CacheParameterGroupName")
    with runtime.LOCK:
        pg = ext.get_pg(name)
        if pg.is_default:
            raise _ipv(f"Cannot delete default cache parameter group {name}.")
        if ext.pg_in_use(pg.name):
            raise InvalidCacheParameterGroupState(
                f"One or more cache clusters are still members of this parameter group {name}, "
                "so the group cannot be deleted."
            )
        del ext.param_groups[pg.name]
        return EmptyResult()


# ---- subnet groups (moto 5.2.5 lacks delete/modify)


def delete_cache_subnet_group(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    name = _p(self, "CacheSubnetGroupName")
    with runtime.LOCK:
        if name not in ext.backend.cache_subnet_groups:
            raise CacheSubnetGroupNotFound(name)
        # AWS is eventually consistent here: right after a replication group
        # is deleted, its subnet group still answers "in use" for a while.
        in_use_until = ext.subnet_groups_released.get(name, 0.0)
        if any(rg.cache_subnet_group_name == name for rg in ext.ours()) or time.monotonic() < in_use_until:
            raise CacheSubnetGroupInUse(f"Cache subnet group {name} is currently in use by a cache cluster.")
        ext.subnet_groups_released.pop(name, None)
        del ext.backend.cache_subnet_groups[name]
        return EmptyResult()


def modify_cache_subnet_group(self: ElastiCacheResponse) -> ActionResult:
    from moto.elasticache.models import CacheSubnetGroup

    ext = _ext(self)
    name = _p(self, "CacheSubnetGroupName")
    with runtime.LOCK:
        old = ext.backend.cache_subnet_groups.get(name)
        if old is None:
            raise CacheSubnetGroupNotFound(name)
        description = _p(self, "CacheSubnetGroupDescription") or old.cache_subnet_group_description
        subnet_ids = _str_list(_p(self, "SubnetIds")) or old.subnet_ids
        new = CacheSubnetGroup(
            account_id=ext.account,
            region_name=ext.region,
            cache_subnet_group_name=name,
            cache_subnet_group_description=description,
            subnet_ids=subnet_ids,
            tags=old.tags,
        )
        ext.backend.cache_subnet_groups[name] = new
        return ActionResult({"CacheSubnetGroup": new})


# ---- replication groups


def create_replication_group(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    rg_id = check_identifier(_p(self, "ReplicationGroupId"), "ReplicationGroupId", 40).lower()
    description = _p(self, "ReplicationGroupDescription")
    if description is None or description == "":
        raise _ipv("The parameter ReplicationGroupDescription must be provided and must not be blank.")
    if _p(self, "PrimaryClusterId") or _p(self, "GlobalReplicationGroupId"):
        raise _ipv("PrimaryClusterId / GlobalReplicationGroupId are not supported by the cairn emulator.")

    engine = (_p(self, "Engine") or "redis").lower()
    if engine not in ("redis", "valkey"):
        raise _ipv(f"Invalid engine {engine} for a replication group; must be redis or valkey.")
    engine_version = _p(self, "EngineVersion") or ("8.0" if engine == "valkey" else "7.1")
    family = engine_family(engine, engine_version)
    if family is None:
        raise _ipv(f"Cannot find version {engine_version} for {engine}")

    node_type = _p(self, "CacheNodeType")
    if not node_type:
        raise _ipv("The parameter CacheNodeType must be provided and must not be blank.")
    if not NODE_TYPE_RE.match(node_type):
        raise _ipv(f"Invalid CacheNodeType: {node_type}")

    num_node_groups = _int(self, "NumNodeGroups")
    replicas_per = _int(self, "ReplicasPerNodeGroup")
    num_cache_clusters = _int(self, "NumCacheClusters")
    ng_config = _p(self, "NodeGroupConfiguration") or []
    if isinstance(ng_config, dict):
        ng_config = list(ng_config.values())
    cluster_mode_param = _p(self, "ClusterMode")
    if cluster_mode_param is not None and cluster_mode_param not in ("enabled", "disabled", "compatible"):
        raise _ipv(f"Invalid value for ClusterMode: {cluster_mode_param}")
    if num_node_groups is not None and not 1 <= num_node_groups <= 500:
        raise _ipv("NumNodeGroups must be between 1 and 500.")
    if replicas_per is not None and not 0 <= replicas_per <= MAX_REPLICAS:
        raise _ipv(f"ReplicasPerNodeGroup must be between 0 and {MAX_REPLICAS}.")
    if num_cache_clusters is not None and not 1 <= num_cache_clusters <= MAX_REPLICAS + 1:
        raise _ipv(f"NumCacheClusters must be between 1 and {MAX_REPLICAS + 1}.")
    shard_count = num_node_groups or (len(ng_config) if ng_config else 1)

    with runtime.LOCK:
        if rg_id in ext.rgs:
            raise ReplicationGroupAlreadyExists(rg_id)

        pg_name = _p(self, "CacheParameterGroupName")
        if pg_name:
            pg = ext.get_pg(pg_name)
            pg_cluster = pg.effective().get("cluster-enabled") == "yes"
            if cluster_mode_param == "enabled" and not pg_cluster:
                raise _ipc(
                    f"ClusterMode enabled requires a cache parameter group with cluster-enabled set to yes; "
                    f"{pg_name} has cluster-enabled=no."
                )
            if cluster_mode_param == "disabled" and pg_cluster:
                raise _ipc(f"ClusterMode disabled cannot use parameter group {pg_name} with cluster-enabled=yes.")
            cluster_mode = pg_cluster
        else:
            cluster_mode = cluster_mode_param == "enabled" or shard_count > 1
            pg = ext.get_pg(f"default.{family}" + (".cluster.on" if cluster_mode else ""))
        if pg.family != family:
            raise _ipc(
                f"The cache parameter group family {pg.family} of {pg.name} does not match "
                f"engine {engine} version {engine_version} (family {family})."
            )
        if shard_count > 1 and not cluster_mode:
            raise _ipc(
                "NumNodeGroups greater than 1 requires cluster mode: use a parameter group with cluster-enabled=yes."
            )

        # shards / replicas
        if not cluster_mode:
            if num_cache_clusters is not None and replicas_per is not None and num_cache_clusters != replicas_per + 1:
                raise _ipc("NumCacheClusters and ReplicasPerNodeGroup are inconsistent.")
            if num_cache_clusters is not None:
                replicas = num_cache_clusters - 1
            elif replicas_per is not None:
                replicas = replicas_per
            elif ng_config and ng_config[0].get("ReplicaCount") is not None:
                replicas = int(ng_config[0]["ReplicaCount"])
            else:
                replicas = 0
            shards = [Shard("0001", replicas, None)]
        else:
            if num_cache_clusters is not None:
                raise _ipc("NumCacheClusters cannot be used with cluster mode enabled; use NumNodeGroups.")
            slots = even_slots(shard_count)
            shards = []
            for i in range(shard_count):
                cfg = ng_config[i] if i < len(ng_config) else {}
                sid = str(cfg.get("NodeGroupId") or f"{i + 1:04d}")
                reps = cfg.get("ReplicaCount")
                reps = int(reps) if reps is not None else (replicas_per or 0)
                if not 0 <= reps <= MAX_REPLICAS:
                    raise _ipv(f"ReplicaCount must be between 0 and {MAX_REPLICAS}.")
                slot_range = slots[i]
                if cfg.get("Slots"):
                    a, b = str(cfg["Slots"]).split("-", 1)
                    slot_range = (int(a), int(b))
                shards.append(Shard(sid, reps, slot_range))

        automatic_failover = bool(_bool(self, "AutomaticFailoverEnabled"))
        multi_az = bool(_bool(self, "MultiAZEnabled"))
        if cluster_mode and not automatic_failover:
            raise _ipc("Cluster mode enabled replication groups require AutomaticFailoverEnabled=true.")
        if multi_az and not automatic_failover:
            raise _ipc("MultiAZEnabled=true requires AutomaticFailoverEnabled=true.")
        if automatic_failover and not cluster_mode and shards[0].replicas < 1:
            raise _ipc("AutomaticFailoverEnabled=true requires at least one read replica (NumCacheClusters >= 2).")
        if multi_az and any(s.replicas < 1 for s in shards):
            raise _ipc("MultiAZEnabled=true requires at least one replica in every node group.")

        tee = bool(_bool(self, "TransitEncryptionEnabled"))
        tem = _p(self, "TransitEncryptionMode")
        if tem is not None:
            if tem not in ("preferred", "required"):
                raise _ipv(f"Invalid TransitEncryptionMode: {tem}. Valid values: preferred, required.")
            if not tee:
                raise _ipc("TransitEncryptionMode can only be set when TransitEncryptionEnabled is true.")
        at_rest = bool(_bool(self, "AtRestEncryptionEnabled"))
        auth_token = _p(self, "AuthToken")
        if auth_token is not None:
            if not tee:
                raise _ipc("AuthToken can only be specified when TransitEncryptionEnabled is true.")
            check_auth_token(auth_token)
        kms_key_id = _p(self, "KmsKeyId")
        if kms_key_id and not at_rest:
            raise _ipc("KmsKeyId can only be specified when AtRestEncryptionEnabled is true.")

        subnet_group = _p(self, "CacheSubnetGroupName")
        azs = ext.subnet_azs(subnet_group)
        sg_ids = _str_list(_p(self, "SecurityGroupIds"))
        ext.check_security_groups(sg_ids)

        port = _int(self, "Port") or 6379
        if not 1 <= port <= 65535:
            raise _ipv(f"Invalid Port: {port}")
        retention = _int(self, "SnapshotRetentionLimit") or 0
        if not 0 <= retention <= 35:
            raise _ipv("SnapshotRetentionLimit must be between 0 and 35.")
        snapshot_window = _p(self, "SnapshotWindow") or "05:00-06:00"
        if not SNAPSHOT_WINDOW_RE.match(snapshot_window):
            raise _ipv(f"Invalid SnapshotWindow format: {snapshot_window}. Expected hh24:mi-hh24:mi.")
        maint = (_p(self, "PreferredMaintenanceWindow") or "sun:23:00-mon:01:30").lower()
        if not MAINT_WINDOW_RE.match(maint):
            raise _ipv(
                f"Invalid PreferredMaintenanceWindow format: {maint}. Expected ddd:hh24:mi-ddd:hh24:mi."
            )
        amvu = _bool(self, "AutoMinorVersionUpgrade")

        rg = ReplicationGroup(
            ext,
            replication_group_id=rg_id,
            description=description,
            engine=engine,
            engine_version=full_version(engine_version),
            cache_node_type=node_type,
            cluster_mode=cluster_mode,
            cluster_mode_setting=cluster_mode_param if cluster_mode_param == "compatible" else None,
            shards=shards,
            automatic_failover=automatic_failover,
            multi_az=multi_az,
            transit_encryption_enabled=tee,
            transit_encryption_mode=(tem or "required") if tee else None,
            at_rest_encryption_enabled=at_rest,
            kms_key_id=kms_key_id,
            auth_tokens=[auth_token] if auth_token else [],
            cache_parameter_group_name=pg.name,
            cache_subnet_group_name=subnet_group,
            security_group_ids=sg_ids,
            port=port,
            snapshot_retention_limit=retention,
            snapshot_window=snapshot_window,
            preferred_maintenance_window=maint,
            auto_minor_version_upgrade=True if amvu is None else amvu,
            network_type=_p(self, "NetworkType") or "ipv4",
            ip_discovery=_p(self, "IpDiscovery") or "ipv4",
            azs=azs,
        )
        ext.rgs[rg_id] = rg
        tags = _p(self, "Tags", [])
        if tags:
            ext.backend.tagging_service.tag_resource(rg.arn, tags)
        result = rg.to_dict()

    _after_delay(lambda: _start_twin(rg), _finish_available(rg))
    return ActionResult({"ReplicationGroup": result})


def describe_replication_groups(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    rg_id = _p(self, "ReplicationGroupId")
    with runtime.LOCK:
        if rg_id:
            groups = [ext.get_rg(rg_id)]
        else:
            groups = ext.ours()
        dicts = [g.to_dict() for g in groups]
    page, marker = paginate(dicts, _p(self, "MaxRecords"), _p(self, "Marker"))
    result: dict[str, Any] = {"ReplicationGroups": page}
    if marker:
        result["Marker"] = marker
    return ActionResult(result)


def _require_available(rg: ReplicationGroup) -> None:
    if rg.status != "available":
        raise InvalidReplicationGroupState(
            f"Replication group {rg.replication_group_id} is not in available state (current state: {rg.status})."
        )
    # AWS: the group reads available before a new (or removed) member has
    # settled; a modify then is refused for that member cluster.
    unsettled = rg.unsettled_member()
    if unsettled is not None:
        cid, status = unsettled
        raise InvalidCacheClusterState(
            f"Cache cluster {cid} is not in a valid state to be modified (current state: {status})."
        )


def _schedule_modify(rg: ReplicationGroup, rebuild: bool, params: bool, tokens: list[str] | None) -> None:
    def work() -> None:
        t = rg.twin()
        mgr = twin_mod.manager()
        if t is None and not (mgr and runtime.twin_enabled()):
            return
        if rebuild or t is None:
            _start_twin(rg)
            return
        if params:
            with runtime.LOCK:
                pg = rg.ext.param_groups.get(rg.cache_parameter_group_name)
                eff = pg.effective() if pg else {}
            t.apply_params(eff)
        if tokens is not None:
            t.set_tokens(tokens)

    _after_delay(work, _finish_available(rg))


def modify_replication_group(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    with runtime.LOCK:
        rg = ext.get_rg(_p(self, "ReplicationGroupId"))
        _require_available(rg)

        node_type = _p(self, "CacheNodeType")
        if node_type is not None and not NODE_TYPE_RE.match(node_type):
            raise _ipv(f"Invalid CacheNodeType: {node_type}")
        af = _bool(self, "AutomaticFailoverEnabled")
        maz = _bool(self, "MultiAZEnabled")
        new_af = rg.automatic_failover if af is None else af
        new_maz = rg.multi_az if maz is None else maz
        if rg.cluster_mode and not new_af:
            raise _ipc("Automatic failover cannot be disabled for cluster mode enabled replication groups.")
        if new_maz and not new_af:
            raise _ipc("MultiAZEnabled=true requires AutomaticFailoverEnabled=true.")
        if new_af and not rg.cluster_mode and rg.shards[0].replicas < 1:
            raise _ipc("AutomaticFailoverEnabled=true requires at least one read replica.")

        pg_name = _p(self, "CacheParameterGroupName")
        pg = None
        if pg_name is not None:
            pg = ext.get_pg(pg_name)
            family = engine_family((_p(self, "Engine") or rg.engine).lower(), _p(self, "EngineVersion") or rg.engine_version)
            if pg.family != family:
                raise _ipc(f"Parameter group family {pg.family} does not match the engine version family {family}.")
            if (pg.effective().get("cluster-enabled") == "yes") != rg.cluster_mode:
                raise _ipc(
                    f"Parameter group {pg.name} has cluster-enabled={pg.effective().get('cluster-enabled')}, "
                    "which does not match the replication group's cluster mode."
                )
        engine_version = _p(self, "EngineVersion")
        if engine_version is not None:
            fam = engine_family((_p(self, "Engine") or rg.engine).lower(), engine_version)
            if fam is None:
                raise _ipv(f"Cannot find version {engine_version} for {rg.engine}")
            if _version_key(full_version(engine_version)) < _version_key(rg.engine_version):
                raise _ipc(
                    f"Cannot downgrade from {rg.engine_version} to {engine_version}: "
                    "ElastiCache does not support engine downgrades."
                )
            if fam != engine_family(rg.engine, rg.engine_version) and pg is None:
                raise _ipc(
                    "Upgrading to a new major engine version requires a CacheParameterGroupName of the new family."
                )
        sg_ids = _p(self, "SecurityGroupIds")
        if sg_ids is not None:
            sg_ids = _str_list(sg_ids)
            ext.check_security_groups(sg_ids)
        retention = _int(self, "SnapshotRetentionLimit")
        if retention is not None and not 0 <= retention <= 35:
            raise _ipv("SnapshotRetentionLimit must be between 0 and 35.")
        snapshot_window = _p(self, "SnapshotWindow")
        if snapshot_window is not None and not SNAPSHOT_WINDOW_RE.match(snapshot_window):
            raise _ipv(f"Invalid SnapshotWindow format: {snapshot_window}. Expected hh24:mi-hh24:mi.")
        maint = _p(self, "PreferredMaintenanceWindow")
        if maint is not None:
            maint = maint.lower()
            if not MAINT_WINDOW_RE.match(maint):
                raise _ipv(f"Invalid PreferredMaintenanceWindow format: {maint}.")

        # In-transit encryption on an existing group: enable with mode
        # preferred, then required in a later call; off only from preferred.
        tee = _bool(self, "TransitEncryptionEnabled")
        tem = _p(self, "TransitEncryptionMode")
        if tem is not None and tem not in ("preferred", "required"):
            raise _ipv(f"Invalid TransitEncryptionMode: {tem}. Valid values: preferred, required.")
        new_tee = rg.transit_encryption_enabled if tee is None else tee
        new_tem = rg.transit_encryption_mode
        if tee is True and not rg.transit_encryption_enabled:
            if tem != "preferred":
                raise _ipc(
                    "To enable in-transit encryption on an existing replication group, "
                    "set TransitEncryptionMode to preferred in the same request."
                )
            new_tem = "preferred"
        elif tee is False and rg.transit_encryption_enabled:
            if rg.transit_encryption_mode != "preferred" and tem != "preferred":
                raise _ipc("To disable in-transit encryption, first set TransitEncryptionMode to preferred.")
            if rg.auth_tokens:
                raise _ipc("In-transit encryption cannot be disabled while AUTH is enabled.")
            new_tem = None
        elif tem is not None:
            if not new_tee:
                raise _ipc("TransitEncryptionMode can only be set when TransitEncryptionEnabled is true.")
            new_tem = tem
        tls_changed = new_tee != rg.transit_encryption_enabled or new_tem != rg.transit_encryption_mode

        # Cluster mode moves forward one step at a time: disabled -> compatible -> enabled
        # (and compatible -> disabled back); a single shard only.
        cm = _p(self, "ClusterMode")
        if cm is not None:
            if cm not in ("enabled", "disabled", "compatible"):
                raise _ipv(f"Invalid value for ClusterMode: {cm}")
            allowed = {("disabled", "compatible"), ("compatible", "enabled"), ("compatible", "disabled")}
            if cm != rg.cluster_mode_setting and (rg.cluster_mode_setting, cm) not in allowed:
                raise _ipc(
                    f"ClusterMode cannot change from {rg.cluster_mode_setting} to {cm}: "
                    "go from disabled to compatible, then to enabled."
                )
            if cm != rg.cluster_mode_setting and len(rg.shards) != 1:
                raise _ipc("ClusterMode can be changed only on a replication group with one node group.")
        # Engine: redis -> valkey only, to a Valkey version.
        new_engine = (_p(self, "Engine") or "").lower() or None
        if new_engine is not None and new_engine != rg.engine:
            if (rg.engine, new_engine) != ("redis", "valkey"):
                raise _ipc(f"Cannot change the engine from {rg.engine} to {new_engine}.")
            if engine_family("valkey", engine_version or "") is None:
                raise _ipc("Changing the engine to valkey needs an EngineVersion of Valkey (7.2 or newer).")

        token = _p(self, "AuthToken")
        strategy = _p(self, "AuthTokenUpdateStrategy")
        user_groups_to_add = _str_list(_p(self, "UserGroupIdsToAdd"))
        new_tokens: list[str] | None = None
        if token is not None or strategy is not None:
            strategy = (strategy or "ROTATE").upper()
            if strategy not in ("ROTATE", "SET", "DELETE"):
                raise _ipv(f"Invalid AuthTokenUpdateStrategy: {strategy}. Valid values: SET, ROTATE, DELETE.")
            if not rg.transit_encryption_enabled:
                raise _ipc("AuthToken can only be modified when TransitEncryptionEnabled is true.")
            if strategy == "DELETE":
                if token is not None:
                    raise _ipc("AuthToken must not be specified with AuthTokenUpdateStrategy DELETE.")
                if not rg.auth_tokens:
                    raise _ipc("AuthTokenUpdateStrategy DELETE requires AUTH to be enabled.")
                if not user_groups_to_add:
                    raise _ipc(
                        "AuthTokenUpdateStrategy DELETE is only allowed when moving to role-based access "
                        "control: specify UserGroupIdsToAdd."
                    )
                new_tokens = []
            else:
                if token is None:
                    raise _ipv(f"AuthToken must be specified with AuthTokenUpdateStrategy {strategy}.")
                check_auth_token(token)
                # AWS: "SET - allowed only after ROTATE" (the group holds two tokens).
                if strategy == "SET" and len(rg.auth_tokens) < 2:
                    raise _ipc("AuthTokenUpdateStrategy SET is allowed only after ROTATE.")
                if strategy == "ROTATE" and rg.auth_tokens:
                    new_tokens = [rg.auth_tokens[-1], token] if rg.auth_tokens[-1] != token else [token]
                else:
                    new_tokens = [token]

        def differs(given: Any, current: Any) -> bool:
            return given is not None and given != current

        if not (
            differs(node_type, rg.cache_node_type)
            or new_af != rg.automatic_failover
            or new_maz != rg.multi_az
            or (pg is not None and pg.name != rg.cache_parameter_group_name)
            or (engine_version is not None and full_version(engine_version) != rg.engine_version)
            or differs(new_engine, rg.engine)
            or differs(cm, rg.cluster_mode_setting)
            or differs(sg_ids, rg.security_group_ids)
            or differs(retention, rg.snapshot_retention_limit)
            or differs(snapshot_window, rg.snapshot_window)
            or differs(maint, rg.preferred_maintenance_window)
            or differs(_p(self, "ReplicationGroupDescription"), rg.description)
            or differs(_bool(self, "AutoMinorVersionUpgrade"), rg.auto_minor_version_upgrade)
            or new_tokens is not None
            or tls_changed
            or user_groups_to_add
        ):
            raise _ipc("No modifications were requested.")

        # --- all validated: apply
        changed_params = False
        rg.transit_encryption_enabled = new_tee
        rg.transit_encryption_mode = new_tem
        cm_changed = cm is not None and cm != rg.cluster_mode_setting
        if cm_changed:
            rg.cluster_mode_setting = cm
            rg.cluster_mode = cm == "enabled"
            if rg.cluster_mode:
                rg.shards[0].slots = (0, 16383)
        if user_groups_to_add:
            rg.user_group_ids = sorted(set(rg.user_group_ids) | set(user_groups_to_add))
        if node_type is not None:
            rg.cache_node_type = node_type
        rg.automatic_failover = new_af
        rg.multi_az = new_maz
        if pg is not None and pg.name != rg.cache_parameter_group_name:
            rg.cache_parameter_group_name = pg.name
            changed_params = True
        if engine_version is not None:
            rg.engine_version = full_version(engine_version)
        engine = _p(self, "Engine")
        if engine:
            rg.engine = engine.lower()
        if sg_ids is not None:
            rg.security_group_ids = sg_ids
        if retention is not None:
            rg.snapshot_retention_limit = retention
        if snapshot_window is not None:
            rg.snapshot_window = snapshot_window
        if maint is not None:
            rg.preferred_maintenance_window = maint
        desc = _p(self, "ReplicationGroupDescription")
        if desc is not None:
            rg.description = desc
        amvu = _bool(self, "AutoMinorVersionUpgrade")
        if amvu is not None:
            rg.auto_minor_version_upgrade = amvu
        rg.status = "modifying"
        rg.pending = {}
        if new_tokens is not None:
            rg.auth_tokens = new_tokens
            rg.auth_token_last_modified = _now()
            rg.pending["AuthTokenStatus"] = "ROTATING" if strategy == "ROTATE" else "SETTING"
        if af is not None:
            rg.pending["AutomaticFailoverStatus"] = "enabled" if new_af else "disabled"
        result = rg.to_dict()

    _schedule_modify(rg, rebuild=tls_changed or cm_changed, params=changed_params, tokens=new_tokens)
    return ActionResult({"ReplicationGroup": result})


def _require_apply_immediately(self: ElastiCacheResponse) -> None:
    if not _bool(self, "ApplyImmediately"):
        raise _ipv("ApplyImmediately must be true; only immediate application is supported.")


def modify_replication_group_shard_configuration(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    count = _int(self, "NodeGroupCount")
    to_remove = _str_list(_p(self, "NodeGroupsToRemove"))
    to_retain = _str_list(_p(self, "NodeGroupsToRetain"))
    with runtime.LOCK:
        rg = ext.get_rg(_p(self, "ReplicationGroupId"))
        _require_available(rg)
        _require_apply_immediately(self)
        if not rg.cluster_mode:
            raise _ipv("ModifyReplicationGroupShardConfiguration is only valid for cluster mode enabled replication groups.")
        if count is None or not 1 <= count <= 500:
            raise _ipv("NodeGroupCount must be between 1 and 500.")
        current = len(rg.shards)
        if to_remove and to_retain:
            raise _ipc("NodeGroupsToRemove and NodeGroupsToRetain cannot both be specified.")
        if count == current:
            raise _ipv(f"NodeGroupCount {count} is equal to the current number of node groups.")
        ids = [s.id for s in rg.shards]
        for nid in to_remove + to_retain:
            if nid not in ids:
                raise NodeGroupNotFound(nid)
        if count > current:
            if to_remove or to_retain:
                raise _ipc("NodeGroupsToRemove/NodeGroupsToRetain are only valid when decreasing NodeGroupCount.")
            next_id = max(int(i) for i in ids if i.isdigit()) + 1 if any(i.isdigit() for i in ids) else current + 1
            reps = rg.shards[0].replicas
            shards = list(rg.shards)
            for k in range(count - current):
                shards.append(Shard(f"{next_id + k:04d}", reps, None))
        else:
            if to_remove:
                if current - len(set(to_remove)) != count:
                    raise _ipv("NodeGroupCount does not match the number of node groups after removing NodeGroupsToRemove.")
                shards = [s for s in rg.shards if s.id not in to_remove]
            elif to_retain:
                if len(set(to_retain)) != count:
                    raise _ipv("NodeGroupCount must equal the number of NodeGroupsToRetain.")
                shards = [s for s in rg.shards if s.id in to_retain]
            else:
                raise _ipv(
                    "Either NodeGroupsToRemove or NodeGroupsToRetain is required when decreasing NodeGroupCount."
                )
        for shard, rng in zip(shards, even_slots(len(shards))):
            shard.slots = rng
        rg.shards = shards
        rg.status = "modifying"
        rg.pending = {"Resharding": {"SlotMigration": {"ProgressPercentage": 0.0}}}
        result = rg.to_dict()
    _schedule_modify(rg, rebuild=True, params=False, tokens=None)
    return ActionResult({"ReplicationGroup": result})


def _replica_targets(self: ElastiCacheResponse, rg: ReplicationGroup) -> dict[str, int]:
    new_count = _int(self, "NewReplicaCount")
    config = _p(self, "ReplicaConfiguration") or []
    if isinstance(config, dict):
        config = list(config.values())
    if new_count is not None and config:
        raise _ipc("NewReplicaCount and ReplicaConfiguration cannot both be specified.")
    ids = [s.id for s in rg.shards]
    if config:
        targets = {}
        for c in config:
            nid = str(c.get("NodeGroupId"))
            if nid not in ids:
                raise NodeGroupNotFound(nid)
            targets[nid] = int(c.get("NewReplicaCount"))
        return targets
    if new_count is None:
        return {}
    return {i: new_count for i in ids}


def _change_replicas(self: ElastiCacheResponse, increase: bool) -> ActionResult:
    ext = _ext(self)
    with runtime.LOCK:
        rg = ext.get_rg(_p(self, "ReplicationGroupId"))
        _require_available(rg)
        _require_apply_immediately(self)
        targets = _replica_targets(self, rg)
        if not increase:
            for cid in _str_list(_p(self, "ReplicasToRemove")):
                for shard in rg.shards:
                    members = rg.members(shard)
                    if cid in members:
                        if cid == members[0]:
                            raise _ipv(f"Cannot remove the primary node {cid}.")
                        targets[shard.id] = targets.get(shard.id, shard.replicas) - 1
                        break
                else:
                    raise _ipv(f"Cache cluster {cid} is not a member of replication group {rg.replication_group_id}.")
        if not targets:
            raise _ipv("One of NewReplicaCount, ReplicaConfiguration or ReplicasToRemove must be provided.")
        minimum = 1 if (rg.multi_az or (rg.automatic_failover and not rg.cluster_mode)) else 0
        for shard in rg.shards:
            if shard.id not in targets:
                continue
            n = targets[shard.id]
            if increase and n <= shard.replicas:
                raise _ipv(f"NewReplicaCount {n} must be greater than the current replica count {shard.replicas}.")
            if not increase and n >= shard.replicas:
                raise _ipv(f"NewReplicaCount {n} must be less than the current replica count {shard.replicas}.")
            if n > MAX_REPLICAS:
                raise _ipv(f"NewReplicaCount must be at most {MAX_REPLICAS}.")
            if n < minimum:
                raise _ipv(
                    f"NewReplicaCount must be at least {minimum} while automatic failover / Multi-AZ is enabled."
                )
        before = set(rg.member_clusters())
        for shard in rg.shards:
            if shard.id in targets:
                shard.replicas = targets[shard.id]
        after = set(rg.member_clusters())
        rg.lagging = {c: "creating" for c in after - before} | {c: "deleting" for c in before - after}
        rg.lag_until = None
        rg.status = "modifying"
        rg.pending = {}
        result = rg.to_dict()
    _schedule_modify(rg, rebuild=True, params=False, tokens=None)
    return ActionResult({"ReplicationGroup": result})


def increase_replica_count(self: ElastiCacheResponse) -> ActionResult:
    return _change_replicas(self, True)


def decrease_replica_count(self: ElastiCacheResponse) -> ActionResult:
    return _change_replicas(self, False)


def delete_replication_group(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    with runtime.LOCK:
        rg = ext.get_rg(_p(self, "ReplicationGroupId"))
        if rg.status not in ("available", "create-failed", "snapshotting"):
            raise InvalidReplicationGroupState(
                f"Replication group {rg.replication_group_id} has status {rg.status} which is not valid for deletion."
            )
        if _bool(self, "RetainPrimaryCluster"):
            raise _ipv("RetainPrimaryCluster is not supported by the cairn emulator.")
        rg.status = "deleting"
        result = rg.to_dict()

    def work() -> None:
        mgr = twin_mod.manager()
        if mgr is not None:
            mgr.stop(rg.replication_group_id)

    def done() -> None:
        if ext.rgs.get(rg.replication_group_id) is rg:
            del ext.rgs[rg.replication_group_id]
            lag = max(0, int(runtime.CONFIG.get("subnet_group_in_use_ms", 0))) / 1000.0
            if rg.cache_subnet_group_name and lag > 0:
                ext.subnet_groups_released[rg.cache_subnet_group_name] = time.monotonic() + lag

    _after_delay(work, done)
    return ActionResult({"ReplicationGroup": result})


def describe_cache_clusters(self: ElastiCacheResponse) -> ActionResult:
    ext = _ext(self)
    cid = _p(self, "CacheClusterId")
    show = bool(_bool(self, "ShowCacheNodeInfo"))
    only_standalone = bool(_bool(self, "ShowCacheClustersNotInReplicationGroups"))
    with runtime.LOCK:
        clusters: list[Any] = []
        if not only_standalone:
            for rg in ext.ours():
                clusters.extend(rg.cache_clusters(show))
        clusters.extend(ext.backend.cache_clusters.values())
    if cid:
        clusters = [
            c
            for c in clusters
            if (c["CacheClusterId"] if isinstance(c, dict) else c.cache_cluster_id) == cid
        ]
        if not clusters:
            raise CacheClusterNotFound(cid)
    page, marker = paginate(clusters, _p(self, "MaxRecords"), _p(self, "Marker"))
    result: dict[str, Any] = {"CacheClusters": page}
    if marker:
        result["Marker"] = marker
    return ActionResult(result)


HANDLERS = {
    "create_cache_parameter_group": create_cache_parameter_group,
    "describe_cache_parameter_groups": describe_cache_parameter_groups,
    "describe_cache_parameters": describe_cache_parameters,
    "describe_engine_default_parameters": describe_engine_default_parameters,
    "modify_cache_parameter_group": modify_cache_parameter_group,
    "reset_cache_parameter_group": reset_cache_parameter_group,
    "delete_cache_parameter_group": delete_cache_parameter_group,
    "delete_cache_subnet_group": delete_cache_subnet_group,
    "modify_cache_subnet_group": modify_cache_subnet_group,
    "create_replication_group": create_replication_group,
    "describe_replication_groups": describe_replication_groups,
    "modify_replication_group": modify_replication_group,
    "modify_replication_group_shard_configuration": modify_replication_group_shard_configuration,
    "increase_replica_count": increase_replica_count,
    "decrease_replica_count": decrease_replica_count,
    "delete_replication_group": delete_replication_group,
    "describe_cache_clusters": describe_cache_clusters,
}


def _patch_subnet_group_azs() -> None:
    """moto 5.2.5 stores a subnet's AZ as a bare string (or under a mistyped key),
    so ``Subnets[].SubnetAvailabilityZone.Name`` serializes empty; normalize it."""
    from moto.elasticache.models import CacheSubnetGroup

    original = CacheSubnetGroup.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        for s in self.subnets:
            az = s.pop("Subnet_availability_zone", None) or s.get("subnet_availability_zone")
            if isinstance(az, str):
                az = {"Name": az}
            s["subnet_availability_zone"] = az or {}

    if not getattr(CacheSubnetGroup, "_cairn_patched", False):
        CacheSubnetGroup.__init__ = init  # type: ignore[method-assign]
        CacheSubnetGroup._cairn_patched = True  # type: ignore[attr-defined]


# Names ElastiCache stores in lower case, whatever case the caller sent.
LOWER_CASE_PARAMS = ("CacheSubnetGroupName", "CacheParameterGroupName")


def _patch_lower_case_names() -> None:
    original = ElastiCacheResponse._get_param

    def get_param(self: Any, name: str, if_none: Any = None) -> Any:
        v = original(self, name, if_none)
        return v.lower() if name in LOWER_CASE_PARAMS and isinstance(v, str) else v

    if not getattr(ElastiCacheResponse, "_cairn_lower_patched", False):
        ElastiCacheResponse._get_param = get_param  # type: ignore[method-assign]
        ElastiCacheResponse._cairn_lower_patched = True  # type: ignore[attr-defined]


def install() -> None:
    for name, fn in HANDLERS.items():
        setattr(ElastiCacheResponse, name, fn)
    _patch_subnet_group_azs()
    _patch_lower_case_names()


def twin_info(rg_id: str) -> dict[str, Any] | None:
    """JSON-able twin description for GET /_cairn/twin/<id> (searches all backends)."""
    from moto.elasticache.models import elasticache_backends

    mgr = twin_mod.manager()
    with runtime.LOCK:
        rg = None
        for account in elasticache_backends.values():
            for backend in account.values():
                cand = backend.replication_groups.get(rg_id.lower())
                if isinstance(cand, ReplicationGroup):
                    rg = cand
    t = mgr.get(rg_id.lower()) if mgr else None
    if t is None:
        if rg is not None and rg.twin_error:
            return {"replication_group_id": rg_id, "error": rg.twin_error, "nodes": []}
        return None
    info = t.info()
    if rg is not None:
        info["status"] = rg.status
    return info
