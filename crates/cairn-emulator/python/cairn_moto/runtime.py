"""Process-wide emulator state: configuration and API call counters."""

from __future__ import annotations

import collections
import os
import threading
from typing import Any

LOCK = threading.RLock()

CONFIG: dict[str, Any] = {
    "delay_ms": int(os.environ.get("CAIRN_EMULATOR_DELAY_MS", "2000") or "2000"),
    "twin": os.environ.get("CAIRN_TWIN", "") in ("1", "true", "yes"),
    "state_dir": None,
    # Added to every AWS API call, to stand in for real network latency.
    "latency_ms": int(os.environ.get("CAIRN_EMULATOR_LATENCY_MS", "0") or "0"),
    # A new KMS key/alias, IAM policy or security group stays invisible this long.
    "hide_new_ms": int(os.environ.get("CAIRN_EMULATOR_HIDE_NEW_MS", "0") or "0"),
    # A cache subnet group stays "in use" this long after its replication group is deleted.
    "subnet_group_in_use_ms": int(os.environ.get("CAIRN_EMULATOR_SUBNET_GROUP_IN_USE_MS", "0") or "0"),
    # Members added/removed by a replica change stay creating/deleting this long
    # after their replication group reads available again.
    "member_lag_ms": int(os.environ.get("CAIRN_EMULATOR_MEMBER_LAG_MS", "0") or "0"),
    # This fraction of API calls answers the service's throttling error (throttle.py).
    "throttle_rate": min(1.0, max(0.0, float(os.environ.get("CAIRN_EMULATOR_THROTTLE_RATE", "0") or "0"))),
    # Seed of the throttling draw, so a run is repeatable.
    "throttle_seed": int(os.environ.get("CAIRN_EMULATOR_THROTTLE_SEED", "0") or "0"),
}

CALLS: collections.Counter[str] = collections.Counter()


def delay_seconds() -> float:
    with LOCK:
        return max(0, int(CONFIG["delay_ms"])) / 1000.0


def latency_seconds() -> float:
    with LOCK:
        return max(0, int(CONFIG["latency_ms"])) / 1000.0


def twin_enabled() -> bool:
    with LOCK:
        return bool(CONFIG["twin"])


def record_call(key: str) -> None:
    with LOCK:
        CALLS[key] += 1


def snapshot_calls() -> dict[str, int]:
    with LOCK:
        return dict(sorted(CALLS.items()))


def reset_calls() -> None:
    with LOCK:
        CALLS.clear()
