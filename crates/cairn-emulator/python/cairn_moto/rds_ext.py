"""RDS DB subnet groups as AWS keeps them (moto 5.2.5 gaps).

moto 5.2.5 stores a DB subnet group under the name as sent (AWS stores and
looks it up lower case), overwrites an existing group on create (AWS:
``DBSubnetGroupAlreadyExists``), accepts subnets in one Availability Zone
(AWS: ``DBSubnetGroupDoesNotCoverEnoughAZs``) or in several VPCs (AWS:
``InvalidSubnet``), and ``ModifyDBSubnetGroup`` drops the group from its
table. This module patches the backend methods (the responses stay moto's).

moto 5.2.5 has no ``DescribeDBEngineVersions``: answered here from a small
fixed catalogue of PostgreSQL versions (``ENGINE_VERSIONS``), with AWS's
matching rules: ``EngineVersion`` names a version or a major version
(``16``), ``DefaultOnly`` keeps the engine's default version (or the major
version's, with ``EngineVersion``), ``DBParameterGroupFamily`` filters.
"""

from __future__ import annotations

from typing import Any

from moto.rds.exceptions import DBSubnetGroupNotFoundError, InvalidSubnet, RDSClientError
from moto.rds.models import RDSBackend


class DBSubnetGroupAlreadyExists(RDSClientError):
    def __init__(self, name: str):
        super().__init__(
            "DBSubnetGroupAlreadyExists", f"The DB subnet group '{name}' already exists."
        )


class DBSubnetGroupDoesNotCoverEnoughAZs(RDSClientError):
    def __init__(self, zones: list[str]):
        super().__init__(
            "DBSubnetGroupDoesNotCoverEnoughAZs",
            "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
            f"Current AZ coverage: {', '.join(zones)}. Add subnets to cover at least 2 AZs.",
        )


class InvalidParameterValue(RDSClientError):
    def __init__(self, message: str):
        super().__init__("InvalidParameterValue", message)


def _check_subnets(subnets: list[Any]) -> None:
    """AWS's rules for a group's subnets: one VPC, at least two AZs."""
    if not subnets:
        raise InvalidParameterValue("Some input subnets in :[] are invalid.")
    vpcs = {s.vpc_id for s in subnets}
    if len(vpcs) > 1:
        raise InvalidSubnet(subnets[-1].id)
    zones = sorted({s.availability_zone for s in subnets})
    if len(zones) < 2:
        raise DBSubnetGroupDoesNotCoverEnoughAZs(zones)


def _create(self: RDSBackend, subnet_name: str, description: str, subnets: list[Any], tags: Any) -> Any:
    key = (subnet_name or "").lower()
    if key == "default":
        raise InvalidParameterValue("DBSubnetGroupName must not be default.")
    if key in self.subnet_groups:
        raise DBSubnetGroupAlreadyExists(key)
    _check_subnets(subnets)
    return _ORIGINAL["create"](self, key, description, subnets, tags)


def _describe(self: RDSBackend, subnet_group_name: str) -> Any:
    return _ORIGINAL["describe"](self, subnet_group_name.lower() if subnet_group_name else subnet_group_name)


def _modify(self: RDSBackend, subnet_name: str, description: str | None, subnets: list[Any]) -> Any:
    key = (subnet_name or "").lower()
    group = self.subnet_groups.get(key)
    if group is None:
        raise DBSubnetGroupNotFoundError(subnet_name)
    _check_subnets(subnets)
    if {s.vpc_id for s in subnets} != {group.vpc_id}:
        raise InvalidSubnet(subnets[0].id)
    group.subnets = subnets
    if description is not None:
        group.description = description
    return group


def _delete(self: RDSBackend, subnet_name: str) -> Any:
    return _ORIGINAL["delete"](self, (subnet_name or "").lower())


# (version, parameter group family, default of its major version)
ENGINE_VERSIONS: dict[str, list[tuple[str, str, bool]]] = {
    "postgres": [
        ("14.12", "postgres14", False),
        ("14.13", "postgres14", True),
        ("15.7", "postgres15", False),
        ("15.8", "postgres15", True),
        ("16.3", "postgres16", False),
        ("16.4", "postgres16", True),
    ],
}
# The version an engine's DefaultOnly answer names without EngineVersion.
ENGINE_DEFAULT = {"postgres": "16.4"}


def _major(version: str) -> str:
    return version.split(".")[0]


def _version_entry(engine: str, version: str, family: str) -> dict[str, Any]:
    later = [v for v, _, _ in ENGINE_VERSIONS[engine] if _key(v) > _key(version)]
    return {
        "Engine": engine,
        "EngineVersion": version,
        "MajorEngineVersion": _major(version),
        "DBParameterGroupFamily": family,
        "DBEngineDescription": "PostgreSQL",
        "DBEngineVersionDescription": f"PostgreSQL {version}-R1",
        "Status": "available",
        "ValidUpgradeTarget": [
            {
                "Engine": engine,
                "EngineVersion": v,
                "Description": f"PostgreSQL {v}-R1",
                "AutoUpgrade": False,
                "IsMajorVersionUpgrade": _major(v) != _major(version),
            }
            for v in later
        ],
        "ExportableLogTypes": ["postgresql", "upgrade"],
        "SupportsLogExportsToCloudwatchLogs": True,
        "SupportsReadReplica": True,
        "SupportedEngineModes": ["provisioned"],
        "SupportedFeatureNames": ["Lambda", "s3Export", "s3Import"],
        "SupportsParallelQuery": False,
        "SupportsGlobalDatabases": False,
        "SupportsBabelfish": False,
        "SupportsLimitlessDatabase": False,
    }


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _describe_db_engine_versions(self: Any) -> Any:
    """DescribeDBEngineVersions from ``ENGINE_VERSIONS``."""
    from moto.core.responses import ActionResult

    engine = self.params.get("Engine")
    wanted = self.params.get("EngineVersion")
    family = self.params.get("DBParameterGroupFamily")
    default_only = self.params.get("DefaultOnly") in (True, "true", "True")
    found = []
    for name, versions in ENGINE_VERSIONS.items():
        if engine and engine != name:
            continue
        for version, fam, major_default in versions:
            if wanted and wanted not in (version, _major(version)):
                continue
            if family and family != fam:
                continue
            if default_only:
                # The major version's default with EngineVersion, else the engine's.
                if wanted and wanted == _major(version) and not major_default:
                    continue
                if not wanted and version != ENGINE_DEFAULT[name]:
                    continue
            found.append(_version_entry(name, version, fam))
    return ActionResult({"DBEngineVersions": found})


_ORIGINAL: dict[str, Any] = {}


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL["create"] = RDSBackend.create_subnet_group
    _ORIGINAL["describe"] = RDSBackend.describe_db_subnet_groups
    _ORIGINAL["delete"] = RDSBackend.delete_subnet_group
    RDSBackend.create_subnet_group = _create  # type: ignore[method-assign]
    RDSBackend.describe_db_subnet_groups = _describe  # type: ignore[method-assign]
    RDSBackend.modify_db_subnet_group = _modify  # type: ignore[method-assign]
    RDSBackend.delete_subnet_group = _delete  # type: ignore[method-assign]
    from moto.rds.responses import RDSResponse

    RDSResponse.describe_db_engine_versions = _describe_db_engine_versions  # type: ignore[attr-defined]
