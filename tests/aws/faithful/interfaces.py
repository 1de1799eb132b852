"""AWS-managed network interfaces, and their lingering after the owner is gone.

Load balancers, RDS instances, NAT gateways and EFS mount targets place requester-managed
ENIs in their subnets; these hold the subnet, the security groups and any public IP, and
AWS releases them asynchronously after the owner is deleted (a deleted load balancer's ENIs
stay about a minute, sometimes five or more; AWS Knowledge Center,
"troubleshoot-dependency-error-delete-vpc"). moto makes ENIs only for NAT gateways and mount targets,
so the layer creates the others and keeps all of them for the configured linger.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ec2.utils import random_public_ip

from .session import Session


def mark_managed(eni: NetworkInterface, description: str, requester_id: str | None, interface_type: str) -> None:
    """Make an ENI look the way AWS shows one it manages for a service."""
    eni.description = description
    eni.requester_managed = True
    if requester_id is not None:
        eni.requester_id = requester_id
    eni.interface_type = interface_type
    eni.status = "in-use"


def create(
    ec2_backend: Any,
    subnet: Any,
    group_ids: list[str],
    description: str,
    requester_id: str,
    public: bool,
) -> NetworkInterface:
    """A requester-managed ENI in `subnet`, with a public IP when the owner faces the internet."""
    eni: NetworkInterface = ec2_backend.create_network_interface(
        subnet, None, group_ids=group_ids or None, description=description
    )
    mark_managed(eni, description, requester_id, "interface")
    if public:
        eni.public_ip = random_public_ip()
    return eni


def release(session: Session, ec2_backend: Any, eni_ids: list[str], owner_id: str, owner_kind: str, linger: float) -> None:
    """The owner is gone: keep its ENIs for `linger` emulated seconds, then delete them."""
    live = [eni_id for eni_id in eni_ids if eni_id in ec2_backend.enis]
    if not live:
        return
    for eni_id in live:
        session.lingering[eni_id] = (owner_id, owner_kind)

    def remove_all() -> None:
        for eni_id in live:
            remove(session, ec2_backend, eni_id)

    if linger <= 0:
        remove_all()
    else:
        session.phases(owner_id, owner_kind, "linger", [(linger, remove_all)])


def remove(session: Session, ec2_backend: Any, eni_id: str) -> None:
    """Delete an ENI now, first unmapping any Elastic IP from it."""
    session.lingering.pop(eni_id, None)
    eni = ec2_backend.enis.pop(eni_id, None)
    if eni is None:
        return
    for address in ec2_backend.addresses:
        if address.eni is eni:
            address.eni = None
            address.instance = None
            address.association_id = None
    eni.public_ip = None
