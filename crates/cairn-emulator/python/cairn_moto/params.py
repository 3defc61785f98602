"""Cache parameter group catalogue (engine defaults) and value validation."""

from __future__ import annotations

from typing import Any

MAXMEMORY_POLICIES = (
    "volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,"
    "volatile-random,allkeys-random,volatile-ttl,noeviction"
)
KEYSPACE_EVENT_CHARS = set("KEg$lshzxeAtmdn")

# name, default, data type, allowed values, modifiable, change type, description
_REDIS: list[tuple[str, str, str, str, bool, str, str]] = [
    ("acllog-max-len", "128", "integer", "1-10000", True, "immediate", "The maximum number of entries in the ACL log."),
    ("active-defrag-cycle-max", "75", "integer", "1-75", True, "immediate", "Maximal effort for defrag in CPU percentage."),
    ("active-defrag-cycle-min", "5", "integer", "1-75", True, "immediate", "Minimal effort for defrag in CPU percentage."),
    ("active-expire-effort", "1", "integer", "1-10", True, "immediate", "The amount of effort that redis uses to expire items in the active expiration job."),
    ("activedefrag", "no", "string", "yes,no", True, "immediate", "Enabled active memory defragmentation."),
    ("activerehashing", "yes", "string", "yes,no", True, "requires-reboot", "Apply rehashing or not."),
    ("appendfsync", "everysec", "string", "always,everysec,no", True, "immediate", "fsync policy for AOF persistence."),
    ("appendonly", "no", "string", "yes,no", True, "immediate", "Enable Redis persistence."),
    ("close-on-replica-write", "yes", "string", "yes,no", True, "immediate", "If enabled, clients who attempt to write to a read-only replica will be disconnected."),
    ("cluster-allow-reads-when-down", "no", "string", "yes,no", True, "immediate", "Allow reads while the cluster is down."),
    ("cluster-enabled", "no", "string", "yes,no", True, "requires-reboot", "Enable cluster mode."),
    ("cluster-require-full-coverage", "no", "string", "yes,no", True, "immediate", "Whether cluster becomes unavailable if one or more slots are not covered."),
    ("databases", "16", "integer", "1-1200000", True, "requires-reboot", "Set the number of databases."),
    ("hash-max-listpack-entries", "128", "integer", "0-", True, "immediate", "The maximum number of hash entries in order for the dataset to be compressed."),
    ("hash-max-listpack-value", "64", "integer", "0-", True, "immediate", "The threshold of biggest hash entries in order for the dataset to be compressed."),
    ("latency-tracking", "no", "string", "yes,no", True, "immediate", "Enables the extended latency monitoring."),
    ("lazyfree-lazy-eviction", "no", "string", "yes,no", True, "immediate", "Perform an asynchronous delete on evictions."),
    ("lazyfree-lazy-expire", "no", "string", "yes,no", True, "immediate", "Perform an asynchronous delete on expired keys."),
    ("lazyfree-lazy-server-del", "no", "string", "yes,no", True, "immediate", "Perform an asynchronous delete for commands which update values."),
    ("lazyfree-lazy-user-del", "no", "string", "yes,no", True, "immediate", "Make DEL behave like UNLINK."),
    ("lazyfree-lazy-user-flush", "no", "string", "yes,no", True, "immediate", "Perform an asynchronous flush when no SYNC/ASYNC modifier is given."),
    ("lfu-decay-time", "1", "integer", "0-", True, "immediate", "The amount of time in minutes to decrement the key counter for LFU eviction policy."),
    ("lfu-log-factor", "10", "integer", "1-", True, "immediate", "The log factor for incrementing key counter for LFU eviction policy."),
    ("list-compress-depth", "0", "integer", "0-", True, "immediate", "Compress depth is the number of quicklist ziplist nodes from each side of the list to exclude from compression."),
    ("list-max-listpack-size", "-2", "integer", "-5-", True, "immediate", "The number of entries allowed per internal list node."),
    ("lua-time-limit", "5000", "integer", "5000", False, "immediate", "Max execution time of a Lua script in milliseconds."),
    ("maxclients", "65000", "integer", "1-65000", False, "immediate", "The maximum number of Redis clients."),
    ("maxmemory-policy", "volatile-lru", "string", MAXMEMORY_POLICIES, True, "immediate", "Max memory policy."),
    ("maxmemory-samples", "3", "integer", "1-", True, "immediate", "Max memory samples."),
    ("min-replicas-max-lag", "10", "integer", "0-", True, "immediate", "The maximum amount of replica lag in seconds beyond which the primary stops accepting writes."),
    ("min-replicas-to-write", "0", "integer", "0-", True, "immediate", "The minimum number of replicas that must be present with lag no greater than min-replicas-max-lag."),
    ("notify-keyspace-events", "", "string", "", True, "immediate", "The keyspace events for Redis to notify Pub/Sub clients about."),
    ("repl-backlog-size", "1048576", "integer", "16384-", True, "immediate", "The replication backlog size in bytes for PSYNC."),
    ("repl-backlog-ttl", "3600", "integer", "0-", True, "immediate", "The amount of time in seconds after the primary has no connected replicas before the backlog is freed."),
    ("reserved-memory", "0", "integer", "0-", True, "immediate", "The amount of memory reserved for non-cache memory usage, in bytes."),
    ("reserved-memory-percent", "25", "integer", "0-100", True, "immediate", "The percent of memory reserved for non-cache memory usage."),
    ("set-max-intset-entries", "512", "integer", "0-", True, "immediate", "The limit in the size of the set in order for the dataset to be compressed."),
    ("slowlog-log-slower-than", "10000", "integer", "-", True, "immediate", "The execution time, in microseconds, to exceed in order for the command to get logged."),
    ("slowlog-max-len", "128", "integer", "0-", True, "immediate", "The length of the slow log."),
    ("stream-node-max-bytes", "4096", "integer", "0-", True, "immediate", "The maximum size of a single node in a stream in bytes."),
    ("stream-node-max-entries", "100", "integer", "0-", True, "immediate", "The maximum number of items a single node in a stream can contain."),
    ("tcp-keepalive", "300", "integer", "0-", True, "immediate", "Close the connection if client is idle for a given number of seconds, or never if 0."),
    ("timeout", "0", "integer", "0,20-", True, "immediate", "Close connection if client is idle for a given number of seconds, or never if 0."),
    ("zset-max-listpack-entries", "128", "integer", "0-", True, "immediate", "The maximum number of sorted set entries in order for the dataset to be compressed."),
    ("zset-max-listpack-value", "64", "integer", "0-", True, "immediate", "The threshold of biggest sorted set entries in order for the dataset to be compressed."),
]

_MEMCACHED: list[tuple[str, str, str, str, bool, str, str]] = [
    ("chunk_size", "48", "integer", "1-", True, "requires-reboot", "The minimum number of bytes to allocate for the smallest item's key, value, and flags."),
    ("chunk_size_growth_factor", "1.25", "numeric", "1-2", True, "requires-reboot", "The growth factor that controls the size of each successive Memcached chunk."),
    ("max_item_size", "1048576", "integer", "1048576-134217728", True, "requires-reboot", "The size in bytes of the largest item that can be stored in the cache."),
    ("memcached_connections_overhead", "100", "integer", "0-", True, "immediate", "The amount of memory to be reserved for Memcached connections and other overhead."),
]

# maxmemory (bytes) per node type: not modifiable, reported as a node-type-specific parameter.
MAXMEMORY_BY_NODE_TYPE = {
    "cache.t3.micro": "536870912",
    "cache.t4g.micro": "536870912",
    "cache.t3.small": "1471026299",
    "cache.t4g.small": "1471026299",
    "cache.t3.medium": "3317862236",
    "cache.t4g.medium": "3317862236",
    "cache.m6g.large": "6854542746",
    "cache.m7g.large": "6854542746",
    "cache.r6g.large": "14037181030",
    "cache.r7g.large": "14037181030",
}

FAMILIES = [
    "redis2.6",
    "redis2.8",
    "redis3.2",
    "redis4.0",
    "redis5.0",
    "redis6.x",
    "redis7",
    "valkey7",
    "valkey8",
    "memcached1.4",
    "memcached1.5",
    "memcached1.6",
]

# Default parameter groups that exist in every account/region.
DEFAULT_GROUPS = [
    ("default.redis6.x", "redis6.x"),
    ("default.redis6.x.cluster.on", "redis6.x"),
    ("default.redis7", "redis7"),
    ("default.redis7.cluster.on", "redis7"),
    ("default.valkey7", "valkey7"),
    ("default.valkey7.cluster.on", "valkey7"),
    ("default.valkey8", "valkey8"),
    ("default.valkey8.cluster.on", "valkey8"),
    ("default.memcached1.6", "memcached1.6"),
]


def catalogue(family: str) -> list[dict[str, Any]]:
    rows = _MEMCACHED if family.startswith("memcached") else _REDIS
    return [
        {
            "ParameterName": r[0],
            "ParameterValue": r[1],
            "DataType": r[2],
            "AllowedValues": r[3],
            "IsModifiable": r[4],
            "ChangeType": r[5],
            "Description": r[6],
            "MinimumEngineVersion": "2.8.0" if not family.startswith("memcached") else "1.4.5",
        }
        for r in rows
    ]


def catalogue_index(family: str) -> dict[str, dict[str, Any]]:
    return {p["ParameterName"]: p for p in catalogue(family)}


def family_defaults(family: str, group_name: str) -> dict[str, str]:
    out = {p["ParameterName"]: p["ParameterValue"] for p in catalogue(family)}
    if group_name.startswith("default.") and group_name.endswith(".cluster.on"):
        out["cluster-enabled"] = "yes"
    return out


def _int_allowed(value: str, allowed: str) -> bool:
    try:
        v = int(value)
    except ValueError:
        return False
    if not allowed or allowed == "-":
        return True
    for seg in allowed.split(","):
        seg = seg.strip()
        # ranges such as "0-", "1-100", "-5-"
        neg = seg.startswith("-")
        body = seg[1:] if neg else seg
        if "-" in body:
            lo_s, hi_s = body.split("-", 1)
            lo = int(("-" if neg else "") + lo_s) if lo_s else None
            hi = int(hi_s) if hi_s else None
            if (lo is None or v >= lo) and (hi is None or v <= hi):
                return True
        elif seg and v == int(seg):
            return True
    return False


def validate_value(param: dict[str, Any], value: str | None) -> str | None:
    """Return an error message if ``value`` is not acceptable for ``param``."""
    name = param["ParameterName"]
    if value is None:
        return f"The parameter value for {name} must be provided."
    allowed = param["AllowedValues"]
    if name == "notify-keyspace-events":
        bad = set(value) - KEYSPACE_EVENT_CHARS
        if bad:
            return f"Invalid value for parameter notify-keyspace-events: {value}"
        return None
    if param["DataType"] == "integer":
        if not _int_allowed(value, allowed):
            return f"Value {value} for parameter {name} is invalid. Allowed values: {allowed}"
        return None
    if param["DataType"] == "numeric":
        try:
            float(value)
        except ValueError:
            return f"Value {value} for parameter {name} is invalid. Allowed values: {allowed}"
        return None
    if allowed and value not in allowed.split(","):
        return f"Value {value} for parameter {name} is invalid. Allowed values: {allowed}"
    return None
