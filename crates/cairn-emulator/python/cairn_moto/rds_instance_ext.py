"""RDS DB instances' status transitions and delete rules (moto 5.2.5 gaps).

- A new instance is ``creating``, then ``backing-up``, then ``available``
  over the configured delay (moto: ``available`` at once).
- ``ModifyDBInstance`` makes an available instance ``modifying``, then
  ``available`` after the delay.
- ``DeleteDBInstance`` without ``SkipFinalSnapshot`` and without
  ``FinalDBSnapshotIdentifier`` answers ``InvalidParameterCombination``
  (AWS's rule; moto deletes). A deleted instance stays ``deleting`` for the
  delay, then is gone (moto: gone at once). Deletion protection is moto's.
- Identifiers are stored and looked up lower case, like AWS.

DB parameter groups: moto keys a group by the name as sent (AWS: lower
case, found in any case), answers an empty list for a name that does not
exist (AWS: ``DBParameterGroupNotFound``), lacks ``ResetDBParameterGroup``,
and deletes a group an instance still uses (AWS:
``InvalidDBParameterGroupState``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.rds.exceptions import (
    DBParameterGroupNotFoundError,
    InvalidParameterCombination,
    RDSClientError,
)
from moto.rds.models import RDSBackend
from moto.rds.responses import RDSResponse

from . import runtime

_ORIGINAL: dict[str, Any] = {}


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


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _create(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
    db_kwargs["db_instance_identifier"] = _lower(db_kwargs.get("db_instance_identifier"))
    db = _ORIGINAL["create"](self, db_kwargs)
    if db.db_cluster_identifier is not None:
        return db
    db.status = "creating"
    half = runtime.delay_seconds() / 2

    def backing_up() -> None:
        if db.status == "creating":
            db.status = "backing-up"
            _after(half, available)

    def available() -> None:
        if db.status == "backing-up":
            db.status = "available"

    if half <= 0:
        db.status = "available"
    else:
        _after(half, backing_up)
    return db


def _describe(self: RDSBackend, db_instance_identifier: str | None = None, filters: Any = None) -> Any:
    return _ORIGINAL["describe"](self, _lower(db_instance_identifier), filters)


def _modify(self: RDSBackend, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
    db = _ORIGINAL["modify"](self, _lower(db_instance_identifier), db_kwargs)
    if db.status == "available" and runtime.delay_seconds() > 0:
        db.status = "modifying"

        def available() -> None:
            if db.status == "modifying":
                db.status = "available"

        _after(runtime.delay_seconds(), available)
    return db


def _delete(
    self: RDSBackend,
    db_instance_identifier: str,
    final_db_snapshot_identifier: str | None = None,
    skip_final_snapshot: Any = False,
    delete_automated_backups: Any = True,
) -> Any:
    key = _lower(db_instance_identifier)
    skip = skip_final_snapshot in (True, "true", "True")
    existing = self.databases.get(key)
    if existing is not None and existing.status == "deleting":
        raise RDSClientError("InvalidDBInstanceState", f"Instance {key} is already being deleted.")
    if existing is not None and not existing.deletion_protection and not skip and not final_db_snapshot_identifier:
        raise InvalidParameterCombination(
            "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
        )
    db = _ORIGINAL["delete"](self, key, final_db_snapshot_identifier, skip, delete_automated_backups)
    delay = runtime.delay_seconds()
    if delay > 0:
        # Still listed while AWS deletes it.
        db.status = "deleting"
        self.databases[key] = db

        def gone() -> None:
            if self.databases.get(key) is db:
                del self.databases[key]

        _after(delay, gone)
    return db


def _pg_create(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
    kwargs["db_parameter_group_name"] = _lower(kwargs.get("db_parameter_group_name"))
    return _ORIGINAL["pg_create"](self, kwargs)


def _pg_describe(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
    name = _lower(kwargs.get("db_parameter_group_name"))
    if name:
        kwargs["db_parameter_group_name"] = name
    found = _ORIGINAL["pg_describe"](self, kwargs)
    if name and not found and not name.startswith("default."):
        raise DBParameterGroupNotFoundError(name)
    return found


def _pg_modify(self: RDSBackend, name: str, parameters: Any) -> Any:
    return _ORIGINAL["pg_modify"](self, _lower(name), parameters)


def _pg_delete(self: RDSBackend, name: str) -> Any:
    key = _lower(name)
    users = sorted(
        db.db_instance_identifier
        for db in self.databases.values()
        if _lower(getattr(db, "db_parameter_group_name", None)) == key and db.status != "deleting"
    )
    if key in self.db_parameter_groups and users:
        raise RDSClientError(
            "InvalidDBParameterGroupState",
            f"One or more database instances are still members of this parameter group {key}, "
            f"so the group cannot be deleted ({', '.join(users)}).",
        )
    return _ORIGINAL["pg_delete"](self, key)


def _reset_db_parameter_group(self: RDSResponse) -> Any:
    """ResetDBParameterGroup: named parameters (or all) back to the engine default."""
    from moto.core.responses import ActionResult

    name = _lower(self.params.get("DBParameterGroupName"))
    group = self.backend.db_parameter_groups.get(name)
    if group is None:
        raise DBParameterGroupNotFoundError(name)
    reset_all = self.params.get("ResetAllParameters") in (True, "true", "True")
    names = [p.original_dict().get("ParameterName") for p in self.params.get("Parameters", [])]
    if reset_all == bool(names):
        raise InvalidParameterCombination(
            "Specify either ResetAllParameters or a list of Parameters, not both and not neither."
        )
    for n in list(group.parameters) if reset_all else names:
        group.parameters.pop(n, None)
    return ActionResult({"DBParameterGroupName": group.name})


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL["create"] = RDSBackend.create_db_instance
    _ORIGINAL["describe"] = RDSBackend.describe_db_instances
    _ORIGINAL["modify"] = RDSBackend.modify_db_instance
    _ORIGINAL["delete"] = RDSBackend.delete_db_instance
    RDSBackend.create_db_instance = _create  # type: ignore[method-assign]
    RDSBackend.describe_db_instances = _describe  # type: ignore[method-assign]
    RDSBackend.modify_db_instance = _modify  # type: ignore[method-assign]
    RDSBackend.delete_db_instance = _delete  # type: ignore[method-assign]
    _ORIGINAL["pg_create"] = RDSBackend.create_db_parameter_group
    _ORIGINAL["pg_describe"] = RDSBackend.describe_db_parameter_groups
    _ORIGINAL["pg_modify"] = RDSBackend.modify_db_parameter_group
    _ORIGINAL["pg_delete"] = RDSBackend.delete_db_parameter_group
    RDSBackend.create_db_parameter_group = _pg_create  # type: ignore[method-assign]
    RDSBackend.describe_db_parameter_groups = _pg_describe  # type: ignore[method-assign]
    RDSBackend.modify_db_parameter_group = _pg_modify  # type: ignore[method-assign]
    RDSBackend.delete_db_parameter_group = _pg_delete  # type: ignore[method-assign]
    RDSResponse.reset_db_parameter_group = _reset_db_parameter_group  # type: ignore[attr-defined]
