"""EC2 NAT gateways and Elastic IPs as AWS behaves (moto 5.2.5 gaps).

- A new NAT gateway is ``pending``, then ``available`` after the
  configured delay (moto: ``available`` at once). ``DeleteNatGateway``
  makes it ``deleting``, then ``deleted`` after the delay, and only then
  frees its Elastic IP (moto: ``deleted`` at once, the address kept).
- ``CreateNatGateway`` with a ``ClientToken`` already used answers with
  the gateway that token made, instead of making another (moto ignores
  the token).
- ``DescribeNatGateways``/``DeleteNatGateway`` of an id that does not exist
  answer ``NatGatewayNotFound`` (moto: an empty list, or a server error).
- ``ReleaseAddress`` of an address a NAT gateway still holds (any state but
  ``deleted``/``failed``) answers ``InvalidIPAddress.InUse`` (moto releases it).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend
from moto.ec2.models.nat_gateways import NatGatewayBackend
from moto.ec2.responses.nat_gateways import NatGateways
from moto.ec2.utils import add_tag_specification

from . import runtime

_ORIGINAL: dict[str, Any] = {}
# (account, region, client token) -> NAT gateway id
_TOKENS: dict[tuple[str, str, str], str] = {}


class NatGatewayNotFound(EC2ClientError):
    def __init__(self, nat_gateway_id: str):
        super().__init__("NatGatewayNotFound", f"The Nat Gateway {nat_gateway_id} was not found")


class AddressInUse(EC2ClientError):
    def __init__(self, allocation_id: str, nat_gateway_id: str):
        super().__init__(
            "InvalidIPAddress.InUse",
            f"Address {allocation_id} is in use by {nat_gateway_id}.",
        )


def _later(done: Any) -> None:
    """Run ``done`` under the runtime lock after the configured delay (at once when 0)."""
    delay = runtime.delay_seconds()
    if delay <= 0:
        with runtime.LOCK:
            done()
        return

    def run() -> None:
        time.sleep(delay)
        with runtime.LOCK:
            done()

    threading.Thread(target=run, daemon=True).start()


def _create(self: Any, *args: Any, **kwargs: Any) -> Any:
    nat = _ORIGINAL["create"](self, *args, **kwargs)
    nat.state = "pending"

    def done() -> None:
        if nat.state == "pending":
            nat.state = "available"

    _later(done)
    return nat


def _delete(self: Any, nat_gateway_id: str) -> Any:
    nat = self.nat_gateways.get(nat_gateway_id)
    if nat is None:
        raise NatGatewayNotFound(nat_gateway_id)
    if nat.state in ("deleting", "deleted"):
        return nat
    nat.state = "deleting"

    def done() -> None:
        nat.state = "deleted"
        for a in nat.address_set:
            assoc = a.get("associationId")
            if assoc:
                try:
                    self.disassociate_address(association_id=assoc)
                except Exception:  # noqa: BLE001 - already gone
                    pass

    _later(done)
    return nat


def _describe(self: Any, filters: Any, nat_gateway_ids: list[str] | None) -> Any:
    for i in nat_gateway_ids or []:
        if i not in self.nat_gateways:
            raise NatGatewayNotFound(i)
    return _ORIGINAL["describe"](self, filters, nat_gateway_ids)


def _release(self: Any, address: str | None = None, allocation_id: str | None = None) -> None:
    eips = self.address_by_ip([address]) if address else self.address_by_allocation([allocation_id])
    alloc = eips[0].allocation_id
    for nat in getattr(self, "nat_gateways", {}).values():
        if nat.state in ("deleted", "failed"):
            continue
        if any(a.get("allocationId") == alloc for a in nat.address_set):
            raise AddressInUse(alloc, nat.id)
    _ORIGINAL["release"](self, address=address, allocation_id=allocation_id)


def _create_response(self: NatGateways) -> Any:
    token = self._get_param("ClientToken")
    if not token:
        return _ORIGINAL["create_response"](self)
    key = (self.current_account, self.region, token)
    # One lock: two calls with one token make one gateway.
    with runtime.LOCK:
        known = _TOKENS.get(key)
        if known and known in self.ec2_backend.nat_gateways:
            nat = self.ec2_backend.nat_gateways[known]
        else:
            nat = self.ec2_backend.create_nat_gateway(
                subnet_id=self._get_param("SubnetId"),
                allocation_id=self._get_param("AllocationId"),
                tags=add_tag_specification(self._get_param("TagSpecifications", [])),
                connectivity_type=self._get_param("ConnectivityType"),
            )
            _TOKENS[key] = nat.id
    return ActionResult({"NatGateway": nat, "ClientToken": token})


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL["create"] = NatGatewayBackend.create_nat_gateway
    _ORIGINAL["describe"] = NatGatewayBackend.describe_nat_gateways
    _ORIGINAL["release"] = ElasticAddressBackend.release_address
    _ORIGINAL["create_response"] = NatGateways.create_nat_gateway
    NatGatewayBackend.create_nat_gateway = _create  # type: ignore[method-assign]
    NatGatewayBackend.delete_nat_gateway = _delete  # type: ignore[method-assign]
    NatGatewayBackend.describe_nat_gateways = _describe  # type: ignore[method-assign]
    ElasticAddressBackend.release_address = _release  # type: ignore[method-assign]
    NatGateways.create_nat_gateway = _create_response  # type: ignore[method-assign]
