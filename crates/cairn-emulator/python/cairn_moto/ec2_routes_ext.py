"""EC2 routes, route table associations and security group rules as AWS
behaves (moto 5.2.5 gaps).

- ``AssociateRouteTable`` on a subnet that already has an association
  answers ``Resource.AlreadyAssociated`` (moto returns the old association).
- ``CreateRoute``/``ReplaceRoute`` to a NAT gateway that does not exist
  answer ``InvalidNatGatewayID.NotFound`` (moto accepts it).
- A security group rule naming a source group is that group, whatever its
  description: AWS ignores the description when matching rules to revoke or
  to update a description (moto compared the whole pair, description too),
  and ``DescribeSecurityGroupRules`` reports that rule's description.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.route_tables import RouteBackend
from moto.ec2.models.security_groups import SecurityGroupRule


class AlreadyAssociated(EC2ClientError):
    def __init__(self, route_table_id: str):
        super().__init__(
            "Resource.AlreadyAssociated",
            f"the specified association for route table {route_table_id} conflicts with an existing association",
        )


class NatGatewayNotFound(EC2ClientError):
    def __init__(self, nat_gateway_id: str):
        super().__init__(
            "InvalidNatGatewayID.NotFound", f"The natGateway ID '{nat_gateway_id}' does not exist"
        )


_ORIGINAL: dict[str, Any] = {}


def _associate(self: Any, route_table_id: str, gateway_id: str | None = None, subnet_id: str | None = None) -> str:
    if subnet_id:
        for table in self.route_tables.values():
            if subnet_id in table._associations.values():
                raise AlreadyAssociated(route_table_id)
    return _ORIGINAL["associate"](self, route_table_id, gateway_id=gateway_id, subnet_id=subnet_id)


def _check_nat(self: Any, nat_gateway_id: str | None) -> None:
    if nat_gateway_id and nat_gateway_id not in self.nat_gateways:
        raise NatGatewayNotFound(nat_gateway_id)


def _create_route(self: Any, route_table_id: str, destination_cidr_block: str | None, *args: Any, **kwargs: Any) -> Any:
    _check_nat(self, kwargs.get("nat_gateway_id"))
    return _ORIGINAL["create_route"](self, route_table_id, destination_cidr_block, *args, **kwargs)


def _replace_route(self: Any, route_table_id: str, destination_cidr_block: str, *args: Any, **kwargs: Any) -> Any:
    # Positional: ipv6 cidr, prefix list, nat gateway id, ...
    nat = kwargs.get("nat_gateway_id", args[2] if len(args) > 2 else None)
    _check_nat(self, nat)
    return _ORIGINAL["replace_route"](self, route_table_id, destination_cidr_block, *args, **kwargs)


def _group_id(pair: dict[str, Any]) -> Any:
    return pair.get("GroupId") or pair.get("GroupName")


def _rule_eq(self: SecurityGroupRule, other: Any) -> bool:
    """moto's comparison, but a source group is matched by its id only."""
    if not isinstance(other, SecurityGroupRule):
        return NotImplemented
    if self.ip_protocol != other.ip_protocol:
        return False
    for key in ("CidrIp", "CidrIpv6"):
        if key in self.ip_range and self.ip_range.get(key) != other.ip_range.get(key):
            return False
    if _group_id(self.source_group or {}) != _group_id(other.source_group or {}):
        return False
    if self.prefix_list_id != other.prefix_list_id:
        return False
    if self.ip_protocol != "-1" and (self.from_port, self.to_port) != (other.from_port, other.to_port):
        return False
    return True


def _rule_description(self: SecurityGroupRule) -> str | None:
    return self.ip_range.get("Description") or (self.source_group or {}).get("Description")


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL["associate"] = RouteBackend.associate_route_table
    _ORIGINAL["create_route"] = RouteBackend.create_route
    _ORIGINAL["replace_route"] = RouteBackend.replace_route
    RouteBackend.associate_route_table = _associate  # type: ignore[method-assign]
    RouteBackend.create_route = _create_route  # type: ignore[method-assign]
    RouteBackend.replace_route = _replace_route  # type: ignore[method-assign]
    SecurityGroupRule.__eq__ = _rule_eq  # type: ignore[method-assign,assignment]
    SecurityGroupRule.description = property(_rule_description)  # type: ignore[method-assign,assignment]
