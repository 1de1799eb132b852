"""What a session's account holds, enumerated from moto's backends in every region (and
IAM's, which is global).

Independent of tags, so a test can assert that a destroy left nothing behind (or that a
provision made exactly what it should). AWS's defaults do not count: the default VPC and
its subnets, default security groups, main route tables, `local` routes, listeners'
default rules and service-linked roles. Objects that are gone do not count either:
terminated instances, and NAT gateways that are `deleted` or `failed` (AWS removes a
failed one by itself). Objects on their way (pending, creating, deleting, lingering, a
target `initial` or `draining`...) count and are also listed as transitional with their
state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.acm.models import acm_backends
from moto.core.base_backend import BackendDict
from moto.ec2.models import ec2_backends
from moto.efs.models import efs_backends
from moto.elbv2.models import elbv2_backends
from moto.iam.models import iam_backends
from moto.rds.models import rds_backends
from moto.ssm.models import ssm_backends

from . import health
from .session import Session

KINDS = (
    "vpc",
    "subnet",
    "internet_gateway",
    "elastic_ip",
    "nat_gateway",
    "route_table",
    "route",
    "route_table_association",
    "security_group",
    "security_group_rules",
    "security_group_rule",
    "key_pair",
    "certificate",
    "db_subnet_group",
    "db_instance",
    "file_system",
    "mount_target",
    "instance",
    "load_balancer",
    "target_group",
    "listener",
    "listener_rule",
    "target_registration",
    "network_interface",
    "ssm_parameter",
    "db_snapshot",
    "iam_role",
    "instance_profile",
    "iam_role_policy",
)

# Where AWS puts the service-linked roles it makes by itself.
SERVICE_LINKED_PATH = "/aws-service-role/"


class _Inventory:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.objects: dict[str, list[str]] = {kind: [] for kind in KINDS}
        self.transitional: list[dict[str, str]] = []

    def add(self, kind: str, obj_id: str, state: str | None = None, settled: tuple[str, ...] = ()) -> None:
        self.objects[kind].append(obj_id)
        if state is not None and state not in settled:
            self.transitional.append({"id": obj_id, "kind": kind, "state": state})

    def json(self) -> dict[str, Any]:
        counts: dict[str, Any] = {kind: len(ids) for kind, ids in self.objects.items()}
        return {**counts, "objects": self.objects, "transitional": self.transitional}


def take(session: Session) -> dict[str, Any]:
    """Counts, ids and transitional objects of the session's account."""
    inventory = _Inventory(session)
    for ec2 in _backends(ec2_backends, session.account_id):
        _ec2(inventory, ec2)
    for rds in _backends(rds_backends, session.account_id):
        for db in rds.databases.values():
            inventory.add("db_instance", db.db_instance_identifier, db.status, ("available",))
        for group in rds.subnet_groups.values():
            inventory.add("db_subnet_group", group.name)
        for snapshot in rds.database_snapshots.values():
            if snapshot.snapshot_type == "manual":
                inventory.add("db_snapshot", snapshot.db_snapshot_identifier)
    for efs in _backends(efs_backends, session.account_id):
        for fs in efs.file_systems_by_id.values():
            inventory.add("file_system", fs.file_system_id, fs.life_cycle_state, ("available",))
        for mt in efs.mount_targets_by_id.values():
            inventory.add("mount_target", mt.mount_target_id, mt.life_cycle_state, ("available",))
    for elbv2 in _backends(elbv2_backends, session.account_id):
        _elbv2(inventory, elbv2)
    for acm in _backends(acm_backends, session.account_id):
        for arn in acm._certificates:
            inventory.add("certificate", arn)
    for ssm in _backends(ssm_backends, session.account_id):
        for name in list(ssm._parameters.keys()):
            if not name.startswith("/aws/"):
                inventory.add("ssm_parameter", name)
    # IAM is global: moto keys its backends by partition ("aws", "aws-cn", ...), not region.
    for iam in _backends(iam_backends, session.account_id):
        _iam(inventory, iam)
    return inventory.json()


def _backends(backend_dict: BackendDict[Any], account_id: str) -> Iterator[Any]:
    """The account's existing region (or partition) backends, without creating any."""
    account = dict.get(backend_dict, account_id)
    if account is not None:
        yield from dict.values(account)


def _ec2(inventory: _Inventory, ec2: Any) -> None:
    default_vpcs = {vpc.id for vpc in ec2.vpcs.values() if vpc.is_default}
    for vpc in ec2.vpcs.values():
        if not vpc.is_default:
            inventory.add("vpc", vpc.id, vpc.state, ("available",))
    for subnet in ec2.describe_subnets():
        if subnet.vpc_id not in default_vpcs:
            inventory.add("subnet", subnet.id, subnet.state, ("available",))
    for igw in ec2.internet_gateways.values():
        if igw.vpc is None or igw.vpc.id not in default_vpcs:
            inventory.add("internet_gateway", igw.id)
    for address in ec2.addresses:
        inventory.add("elastic_ip", address.allocation_id or address.public_ip)
    for nat in ec2.nat_gateways.values():
        if nat.state not in ("deleted", "failed"):
            inventory.add("nat_gateway", nat.id, nat.state, ("available",))
    for route_table in ec2.route_tables.values():
        if route_table.vpc_id in default_vpcs:
            continue
        if not route_table.main_association_id:
            inventory.add("route_table", route_table.id)
        for route in route_table.routes:
            if not route.local:
                inventory.add("route", route.id)
        for association_id in route_table._associations:
            inventory.add("route_table_association", association_id)
    for group in ec2.describe_security_groups():
        if group.is_default:
            continue
        inventory.add("security_group", group.id)
        if group.ingress_rules:
            inventory.add("security_group_rules", group.id)
        for rule in group.ingress_rules:
            inventory.add("security_group_rule", rule.id)
    for name in ec2.key_pairs:
        inventory.add("key_pair", name)
    for instance in ec2.all_instances():
        if instance.state != "terminated":
            inventory.add("instance", instance.id, instance.state, ("running", "stopped"))
    for eni_id in ec2.enis:
        state = "lingering" if eni_id in inventory.session.lingering else None
        inventory.add("network_interface", eni_id, state)


def _elbv2(inventory: _Inventory, elbv2: Any) -> None:
    for lb in elbv2.load_balancers.values():
        inventory.add("load_balancer", lb.arn, lb.state, ("active",))
        for listener in lb.listeners.values():
            inventory.add("listener", listener.arn)
            for rule_arn in listener._non_default_rules:
                inventory.add("listener_rule", rule_arn)
    for tg in elbv2.target_groups.values():
        inventory.add("target_group", tg.arn)
        # A draining target is still in its group until its deregistration delay is over.
        for target_id in [*tg.targets, *health.draining(tg)]:
            found = health.state(inventory.session, elbv2, tg, target_id)
            state = found[0] if found is not None and found[0] in health.UNSETTLED else None
            inventory.add("target_registration", f"{tg.arn}|{target_id}", state)


def _iam(inventory: _Inventory, iam: Any) -> None:
    for role in iam.roles.values():
        if role.path.startswith(SERVICE_LINKED_PATH):
            continue
        inventory.add("iam_role", role.name)
        for policy_name in role.policies:
            inventory.add("iam_role_policy", f"{role.name}|{policy_name}")
    for profile in iam.instance_profiles.values():
        inventory.add("instance_profile", profile.name)
