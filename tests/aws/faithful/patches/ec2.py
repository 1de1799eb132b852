"""EC2 rules: dependency checks on deletes, input rules, lifecycles and fresh-id bookkeeping.

Deletes AWS refuses while something depends on the object (`DependencyViolation` and its
siblings, per the EC2 API reference); group and rule text AWS validates
(API_CreateSecurityGroup and API_IpRange); the time VPCs, subnets, NAT gateways and
instances take (typical AWS figures); and what a transitional object still holds:
a `shutting-down` instance keeps its ENI, groups and public IP, a `deleting` NAT gateway its
Elastic IP and ENI (the EIP is unmapped only once the NAT gateway is `deleted`).

Stop and start: moto's StopInstances and StartInstances are final at once, from any state,
and its ModifyInstanceAttribute changes the type of a running instance. Here an instance is
`stopping` ~30 s before `stopped`, and `pending` again (as long as at launch) before
`running`; the states AWS refuses these calls in answer `IncorrectInstanceState` (messages
as EC2 gives them in public traces), and the attributes that need a stopped instance
(API_ModifyInstanceAttribute: "To modify some attributes, the instance must be stopped";
the EC2 user guide's "Modify a stopped instance": type, user data, kernel, RAM disk) are
refused on any other.
"""

from __future__ import annotations

import copy
import re
from functools import partial
from typing import Any

from moto.core.utils import iso_8601_datetime_with_milliseconds, utcnow
from moto.ec2.exceptions import EC2ClientError, OperationDisableApiStopNotPermitted, OperationNotPermitted4
from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend
from moto.ec2.models.instances import Instance, InstanceBackend, InstanceState
from moto.ec2.models.internet_gateways import InternetGatewayBackend
from moto.ec2.models.key_pairs import KeyPairBackend
from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend
from moto.ec2.models.route_tables import RouteBackend
from moto.ec2.models.security_groups import SecurityGroup, SecurityGroupBackend
from moto.ec2.models.subnets import SubnetBackend
from moto.ec2.models.vpcs import VPCBackend
from moto.ec2.responses.security_groups import SecurityGroups

from .. import health, interfaces
from ..context import RequestContext, logged_as, patch, refuse
from ..session import Session

# Security group names, group descriptions and rule descriptions in a VPC: up to 255
# characters from this set (API_CreateSecurityGroup, API_IpRange "Description").
_SG_TEXT = re.compile(r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}")
_SG_SET = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
RULE_DESCRIPTION_ERROR = (
    f"Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  {_SG_SET}"
)
GROUP_DESCRIPTION_ERROR = (
    "Invalid security group description. Valid descriptions are strings less than 256 characters "
    f"from the following set:  {_SG_SET}"
)


def _invalid(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidParameterValue", message)


def _dependency(message: str) -> EC2ClientError:
    return EC2ClientError("DependencyViolation", message)


# -- VPCs and subnets ----------------------------------------------------------------------


@patch(VPCBackend, "create_vpc")
def _create_vpc(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    vpc = original(self, *args, **kwargs)
    if context.operation == "CreateVpc" and not vpc.is_default:
        _pending_until_available(context.session, vpc, "vpc")
    return vpc


@patch(SubnetBackend, "create_subnet")
def _create_subnet(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    subnet = original(self, *args, **kwargs)
    # The default VPC's subnets are made when the account's backend starts, maybe inside a call.
    if context.operation == "CreateSubnet" and not subnet.default_for_az:
        _pending_until_available(context.session, subnet, "subnet")
    return subnet


def _pending_until_available(session: Session, obj: Any, kind: str) -> None:
    """VPCs and subnets answer `pending` for a few seconds after the create."""
    session.note_created(obj.id, kind)
    obj.state = "pending"

    def available() -> None:
        if obj.state == "pending":
            obj.state = "available"

    session.after(obj.id, kind, "create", available)


@patch(VPCBackend, "delete_vpc")
def _delete_vpc(context: RequestContext, original: Any, self: Any, vpc_id: str) -> Any:
    """A VPC with an attached gateway, its own groups, subnets or route tables is refused."""
    if context.operation != "DeleteVpc":
        return original(self, vpc_id)
    blocked = context.rules.deletion and (
        any(igw.vpc is not None and igw.vpc.id == vpc_id for igw in self.internet_gateways.values())
        or any(not group.is_default for group in self.groups.get(vpc_id, {}).values())
        or bool(self.describe_subnets(filters={"vpc-id": vpc_id}))
        or any(rt.vpc_id == vpc_id and not rt.main_association_id for rt in self.route_tables.values())
    )
    if blocked:
        refuse(context, "deletion.vpc", _dependency(f"The vpc '{vpc_id}' has dependencies and cannot be deleted."))
    with logged_as(context, "deletion.vpc", "DependencyViolation"):
        return original(self, vpc_id)


@patch(SubnetBackend, "delete_subnet")
def _delete_subnet(context: RequestContext, original: Any, self: Any, subnet_id: str) -> Any:
    """Any network interface in the subnet (an instance's, a NAT gateway's, a mount target's,
    a database's, a load balancer's, or one lingering after its owner) blocks the delete."""
    if context.operation == "DeleteSubnet" and context.rules.deletion:
        if any(eni.subnet.id == subnet_id for eni in self.enis.values()):
            refuse(
                context,
                "deletion.subnet",
                _dependency(f"The subnet '{subnet_id}' has dependencies and cannot be deleted."),
            )
    return original(self, subnet_id)


# -- security groups -----------------------------------------------------------------------


@patch(SecurityGroupBackend, "create_security_group")
def _create_security_group(
    context: RequestContext, original: Any, self: Any, name: str, description: str, *args: Any, **kwargs: Any
) -> Any:
    if context.operation != "CreateSecurityGroup" or kwargs.get("is_default"):
        return original(self, name, description, *args, **kwargs)
    if context.rules.input:
        if name.startswith("sg-"):
            message = f"Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-*."
            refuse(context, "input.sg_name", _invalid(message))
        if len(name) > 255:
            message = f"Value ({name}) for parameter GroupName is invalid. Group names may not be longer than 255 characters."
            refuse(context, "input.sg_name", _invalid(message))
        if description and not description.isascii():
            message = (
                f"Value ({description}) for parameter GroupDescription is invalid. "
                "Character sets beyond ASCII are not supported."
            )
            refuse(context, "input.sg_description", _invalid(message))
        if description and not _SG_TEXT.fullmatch(description):
            refuse(context, "input.sg_description", _invalid(GROUP_DESCRIPTION_ERROR))
    group = original(self, name, description, *args, **kwargs)
    context.session.note_created(group.id, "security_group")
    return group


def _check_rule_descriptions(context: RequestContext, original: Any, self: SecurityGroups) -> Any:
    """Every rule description of the call is checked before any rule is applied."""
    if context.rules.input:
        for rule in self._process_rules_from_querystring():
            for entry in (*rule["ip_ranges"], *rule["source_groups"], *rule["prefix_list_ids"]):
                description = entry.get("Description") if isinstance(entry, dict) else None
                if description is not None and not _SG_TEXT.fullmatch(description):
                    refuse(context, "input.sg_description", _invalid(RULE_DESCRIPTION_ERROR))
    return original(self)


for _name in (
    "authorize_security_group_ingress",
    "authorize_security_group_egress",
    "update_security_group_rule_descriptions_ingress",
    "update_security_group_rule_descriptions_egress",
):
    patch(SecurityGroups, _name)(_check_rule_descriptions)


@patch(SecurityGroupBackend, "delete_security_group")
def _delete_security_group(
    context: RequestContext, original: Any, self: Any, name: str | None = None, group_id: str | None = None
) -> Any:
    """The default group can never go; another one not while an interface or instance uses it
    or another group's rule references it."""
    if context.operation != "DeleteSecurityGroup" or not context.rules.deletion:
        return original(self, name, group_id)
    group = self.get_security_group_from_id(group_id) if group_id else self.get_security_group_by_name_or_id(name)
    if group is not None:
        if group.is_default:
            message = f'the specified group: "{group.id}" name: "default" cannot be deleted by a user'
            refuse(context, "deletion.default_security_group", EC2ClientError("CannotDelete", message))
        if _group_in_use(self, group):
            refuse(context, "deletion.security_group", _dependency(f"resource {group.id} has a dependent object"))
    return original(self, name, group_id)


def _group_in_use(backend: Any, group: SecurityGroup) -> bool:
    """Whether an interface or a live instance uses the group, or another group's rule names it."""
    for eni in backend.enis.values():
        if group in eni._group_set:
            return True
        if eni.instance is not None and eni.instance.state != "terminated" and group in eni.instance.security_groups:
            return True
    if any(i.state != "terminated" and group in i.security_groups for i in backend.all_instances()):
        return True
    for other in backend.describe_security_groups():
        if other is not group:
            for rule in (*other.ingress_rules, *other.egress_rules):
                if rule.source_group.get("GroupId") == group.id:
                    return True
    return False


# -- internet gateways, Elastic IPs, route tables, key pairs -------------------------------


@patch(InternetGatewayBackend, "create_internet_gateway")
def _create_internet_gateway(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    igw = original(self, *args, **kwargs)
    context.session.note_created(igw.id, "internet_gateway")
    return igw


@patch(InternetGatewayBackend, "detach_internet_gateway")
def _detach_internet_gateway(
    context: RequestContext, original: Any, self: Any, internet_gateway_id: str, vpc_id: str
) -> Any:
    """Refused while any interface in the VPC maps a public IP (an EIP, an instance's public IP,
    an internet-facing load balancer's or a public database's interface, lingering ones too)."""
    igw = self.internet_gateways.get(internet_gateway_id)
    if context.rules.deletion and igw is not None and igw.vpc is not None and igw.vpc.id == vpc_id:
        if any(eni.subnet.vpc_id == vpc_id and eni.public_ip for eni in self.enis.values()):
            message = (
                f"Network {vpc_id} has some mapped public address(es). "
                "Please unmap those public address(es) before detaching the gateway."
            )
            refuse(context, "deletion.igw_detach", _dependency(message))
    return original(self, internet_gateway_id, vpc_id)


@patch(ElasticAddressBackend, "allocate_address")
def _allocate_address(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    address = original(self, *args, **kwargs)
    if address.allocation_id:
        context.session.note_created(address.allocation_id, "elastic_ip")
    return address


@patch(ElasticAddressBackend, "release_address")
def _release_address(
    context: RequestContext, original: Any, self: Any, address: str | None = None, allocation_id: str | None = None
) -> Any:
    """An associated address (to an instance, or to a NAT gateway not yet `deleted`) stays."""
    if context.rules.deletion and (address or allocation_id):
        eip = (self.address_by_ip([address]) if address else self.address_by_allocation([allocation_id]))[0]
        if eip.association_id or eip.eni is not None or eip.instance is not None:
            refuse(
                context,
                "deletion.elastic_ip",
                EC2ClientError("InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use."),
            )
    return original(self, address, allocation_id)


@patch(RouteBackend, "create_route_table")
def _create_route_table(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    route_table = original(self, *args, **kwargs)
    if context.operation == "CreateRouteTable" and not route_table.main_association_id:
        context.session.note_created(route_table.id, "route_table")
    return route_table


@patch(RouteBackend, "delete_route_table")
def _delete_route_table(context: RequestContext, original: Any, self: Any, route_table_id: str) -> Any:
    if context.operation != "DeleteRouteTable":
        return original(self, route_table_id)
    route_table = self.route_tables.get(route_table_id)
    if context.rules.deletion and route_table is not None and route_table.main_association_id:
        message = f"The routeTable '{route_table_id}' has dependencies and cannot be deleted."
        refuse(context, "deletion.main_route_table", _dependency(message))
    with logged_as(context, "deletion.route_table", "DependencyViolation"):
        return original(self, route_table_id)


def _check_key_name(context: RequestContext, name: str) -> None:
    """Key pair names: up to 255 ASCII characters (API_CreateKeyPair, API_ImportKeyPair)."""
    if context.rules.input and (len(name) > 255 or not name.isascii()):
        message = f"Value ({name}) for parameter keyName is invalid. Key names must be up to 255 ASCII characters."
        refuse(context, "input.key_pair_name", _invalid(message))


@patch(KeyPairBackend, "create_key_pair")
def _create_key_pair(context: RequestContext, original: Any, self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    _check_key_name(context, name)
    return original(self, name, *args, **kwargs)


@patch(KeyPairBackend, "import_key_pair")
def _import_key_pair(context: RequestContext, original: Any, self: Any, key_name: str, *args: Any, **kwargs: Any) -> Any:
    _check_key_name(context, key_name)
    return original(self, key_name, *args, **kwargs)


# -- NAT gateways --------------------------------------------------------------------------

_NAT_FAILURE = (
    "InternalError",
    "Network interface {eni}, created and used internally by this NAT gateway is in an invalid state. Please try again.",
)


@patch(NatGatewayBackend, "create_nat_gateway")
def _create_nat_gateway(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    """`pending` ~100 s, then `available`, or `failed` for the first `fail_nat_gateways`."""
    nat = original(self, *args, **kwargs)
    session = context.session
    interfaces.mark_managed(nat._eni, f"Interface for NAT Gateway {nat.id}", None, "nat_gateway")
    session.note_created(nat.id, "nat_gateway")
    session.nat_gateways_created += 1
    fails = session.nat_gateways_created <= session.config.fail_nat_gateways
    nat.state = "pending"
    session.after(nat.id, "nat_gateway", "create", partial(_nat_settled, session, self, nat, fails))
    return nat


def _nat_settled(session: Session, backend: Any, nat: Any, fails: bool) -> None:
    """Settle a pending NAT gateway; a failed one gets AWS's FailureCode and FailureMessage."""
    if nat.state != "pending":
        return
    if not fails:
        nat.state = "available"
        return
    # A failed NAT gateway releases its address and interface (it never carried traffic).
    nat.state = "failed"
    nat.failure_code = _NAT_FAILURE[0]
    nat.failure_message = _NAT_FAILURE[1].format(eni=nat._eni.id)
    _unmap_nat_address(backend, nat)
    interfaces.remove(session, backend, nat._eni.id)


@patch(NatGatewayBackend, "delete_nat_gateway")
def _delete_nat_gateway(context: RequestContext, original: Any, self: Any, nat_gateway_id: str) -> Any:
    """`deleting` ~60 s, then `deleted` (visible as such); its EIP and ENI are held until then."""
    nat = self.nat_gateways.get(nat_gateway_id)
    if nat is None:
        raise EC2ClientError("NatGatewayNotFound", f"The Nat Gateway {nat_gateway_id} was not found")
    if nat.state in ("deleting", "deleted"):
        return nat
    session = context.session
    nat.state = "deleting"
    session.after(nat.id, "nat_gateway", "delete", partial(_nat_deleted, session, self, nat))
    return nat


def _nat_deleted(session: Session, backend: Any, nat: Any) -> None:
    """The NAT gateway is `deleted` (with its DeleteTime): its address and interface are let go."""
    if nat.state != "deleting":
        return
    nat.state = "deleted"
    nat.delete_time = iso_8601_datetime_with_milliseconds(utcnow())
    _unmap_nat_address(backend, nat)
    interfaces.release(session, backend, [nat._eni.id], nat.id, "nat_gateway", session.config.linger.nat_gateway)


def _unmap_nat_address(backend: Any, nat: NatGateway) -> None:
    """Disassociate the NAT gateway's Elastic IP from its interface."""
    for address in backend.addresses:
        if address.eni is nat._eni:
            address.eni = None
            address.association_id = None
    nat._eni.public_ip = None
    for entry in nat.address_set:
        entry.pop("associationId", None)


# -- instances -----------------------------------------------------------------------------


@patch(InstanceBackend, "run_instances")
def _run_instances(
    context: RequestContext, original: Any, self: Any, image_id: str, count: int, *args: Any, **kwargs: Any
) -> Any:
    """`pending` ~30 s, then `running`."""
    if context.operation != "RunInstances":
        return original(self, image_id, count, *args, **kwargs)
    session = context.session
    existing = set(self.enis)
    keep = {int(nic.get("DeviceIndex", 0)) for nic in kwargs.get("nics", []) if nic.get("DeleteOnTermination") is False}
    reservation = original(self, image_id, count, *args, **kwargs)
    for instance in reservation.instances:
        # Interfaces RunInstances creates are deleted on termination unless told otherwise.
        instance._faithful_launch_enis = [
            eni.id for index, eni in instance.nics.items() if eni.id not in existing and index not in keep
        ]
        session.note_created(instance.id, "instance")
        instance._state = InstanceState("pending", 0)
        session.after(instance.id, "instance", "create", partial(_instance_running, session, instance))
    return reservation


def _instance_running(session: Session, instance: Instance) -> None:
    """A pending instance is running; `RegisterTargets` sees it late (`lag.register`)."""
    if instance._state.name == "pending":
        instance._state = InstanceState("running", 16)
        _note_running(session, instance)


def _note_running(session: Session, instance: Instance) -> None:
    """From now on: `lag.register`'s window, and its target groups' health checks."""
    session.running_since[instance.id] = session.now()
    health.instance_running(session, instance.ec2_backend.account_id, instance.ec2_backend.region_name, instance.id)


def _incorrect_state(message: str) -> EC2ClientError:
    return EC2ClientError("IncorrectInstanceState", message)


@patch(InstanceBackend, "stop_instances")
def _stop_instances(context: RequestContext, original: Any, self: Any, instance_ids: list[str]) -> Any:
    """`stopping` ~30 s, then `stopped` (moto: `stopped` at once). Stopping a stopped or
    stopping instance changes nothing; a pending one that never ran, a shutting-down or a
    terminated one is refused."""
    if context.operation != "StopInstances":
        return original(self, instance_ids)
    session = context.session
    instances = self.get_multi_instances_by_id(instance_ids)
    for instance in instances:
        if instance.disable_api_stop is True:
            raise OperationDisableApiStopNotPermitted(instance.id)
        name = instance._state.name
        if name in ("shutting-down", "terminated"):
            message = f"This instance '{instance.id}' is not in a state from which it can be stopped."
            refuse(context, "state.instance_stop", _incorrect_state(message))
        if name == "pending" and instance.id not in session.running_since:
            message = f"Instance '{instance.id}' cannot be stopped as it has never reached the 'running' state."
            refuse(context, "state.instance_stop", _incorrect_state(message))
    result = []
    for instance in instances:
        previous = copy.copy(instance._state)
        if instance._state.name in ("pending", "running"):
            instance._state = InstanceState("stopping", 64)
            session.after(instance.id, "instance", "stop", partial(_instance_stopped, instance))
        result.append((instance, previous))
    return result


def _instance_stopped(instance: Instance) -> None:
    """moto's stop: `stopped`, the auto-assigned public IP released, the state reason set."""
    if instance._state.name == "stopping":
        Instance.stop(instance)


@patch(InstanceBackend, "start_instances")
def _start_instances(context: RequestContext, original: Any, self: Any, instance_ids: list[str]) -> Any:
    """A stopped instance is `pending` (as long as at launch), then `running` (moto: at once).
    Starting a pending or running one changes nothing; a stopping, shutting-down or
    terminated one is refused."""
    if context.operation != "StartInstances":
        return original(self, instance_ids)
    session = context.session
    instances = self.get_multi_instances_by_id(instance_ids)
    for instance in instances:
        if instance._state.name in ("stopping", "shutting-down", "terminated"):
            message = f"The instance '{instance.id}' is not in a state from which it can be started."
            refuse(context, "state.instance_start", _incorrect_state(message))
    result = []
    for instance in instances:
        previous = copy.copy(instance._state)
        if instance._state.name == "stopped":
            instance._state = InstanceState("pending", 0)
            steps = [(session.duration("instance.create"), partial(_instance_started, session, instance))]
            session.phases(instance.id, "instance", "start", steps)
        result.append((instance, previous))
    return result


def _instance_started(session: Session, instance: Instance) -> None:
    """moto's start (a new auto-assigned public IP), then what any instance that runs notes."""
    if instance._state.name == "pending":
        Instance.start(instance)
        _note_running(session, instance)


# Attributes ModifyInstanceAttribute changes only on a stopped instance, by moto's key.
_STOPPED_ONLY = ("instance_type", "user_data", "kernel", "ramdisk")


@patch(InstanceBackend, "modify_instance_attribute")
def _modify_instance_attribute(context: RequestContext, original: Any, self: Any, instance_id: str, key: str, value: Any) -> Any:
    if context.operation == "ModifyInstanceAttribute" and key in _STOPPED_ONLY:
        instance = self.get_instance(instance_id)
        if instance._state.name != "stopped":
            message = f"The instance '{instance_id}' is not in the 'stopped' state."
            refuse(context, "state.instance_attribute", _incorrect_state(message))
    return original(self, instance_id, key, value)


@patch(InstanceBackend, "terminate_instances")
def _terminate_instances(context: RequestContext, original: Any, self: Any, instance_ids: list[str]) -> Any:
    """`shutting-down` ~45 s, keeping its interface, groups and public IP, then `terminated`."""
    if context.operation != "TerminateInstances" or not instance_ids:
        return original(self, instance_ids)
    session = context.session
    instances = self.get_multi_instances_by_id(instance_ids)
    for instance in instances:
        if instance.disable_api_termination is True:
            raise OperationNotPermitted4(instance.id)
    result = []
    for instance in instances:
        previous = copy.copy(instance._state)
        if instance._state.name not in ("shutting-down", "terminated"):
            instance._state = InstanceState("shutting-down", 32)
            session.after(instance.id, "instance", "delete", partial(_instance_terminated, session, self, instance))
        result.append((instance, previous))
    return result


def _instance_terminated(session: Session, backend: Any, instance: Instance) -> None:
    """The instance is terminated: its public IP, Elastic IP and launch interfaces go."""
    if instance._state.name != "shutting-down":
        return
    Instance.terminate(instance)
    health.instance_terminated(backend.account_id, backend.region_name, instance.id)
    for address in backend.addresses:
        if address.instance is instance:
            backend.disassociate_address(address=address.public_ip)
    # moto describes an instance through its interface objects, so the terminated instance
    # keeps referring to them while they leave the account.
    for eni_id in getattr(instance, "_faithful_launch_enis", []):
        interfaces.remove(session, backend, eni_id)
