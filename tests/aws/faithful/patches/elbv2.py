"""ELBv2 rules: names, the `provisioning` state, load balancer interfaces, and in-use checks.

A load balancer is `provisioning` for ~2.5 min before `active` (typical AWS figures; moto
flips it on the first describe). It places one requester-managed ENI per subnet, with its
security groups and, when internet-facing, a public IP; deleting it returns at once but the
ENIs linger. Names follow API_CreateLoadBalancer / API_CreateTargetGroup. A target
group is refused deletion while a listener or rule forwards to it, a load balancer while
deletion protection is on; the layer also notes when a target group or a certificate lost
its last user, for the propagation delays in `lag`, and when a group is first forwarded to,
for its targets' health checks.

Target health (`health`): moto answers `healthy` at once and forgets a deregistered target
at once; here a target is `initial` for its health checks, `unused` while its group serves
no listener or its instance is not running, and `draining` for the deregistration delay.
DeregisterTargets of a target that is not registered succeeds, as API_DeregisterTargets
says ("If the specified target does not exist, the action returns successfully"; moto
answers `InvalidTarget`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from moto.acm.models import acm_backends
from moto.elbv2.exceptions import ELBClientError, ResourceInUseError
from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer

from .. import health, interfaces
from ..context import RequestContext, logged_as, patch, refuse
from ..session import Session

_NAME = re.compile(r"[A-Za-z0-9-]+")


def _check_name(context: RequestContext, name: str, label: str, load_balancer: bool) -> None:
    """At most 32 alphanumerics or hyphens, no hyphen at either end, no `internal-` LB prefix."""
    if not context.rules.input:
        return
    if len(name) > 32:
        message = f"{label} '{name}' cannot be longer than '32' characters"
    elif not _NAME.fullmatch(name):
        message = f"{label} '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
    elif name.startswith("-") or name.endswith("-"):
        message = f"{label} '{name}' cannot begin or end with '-'"
    elif load_balancer and name.startswith("internal-"):
        message = f"{label} '{name}' cannot begin with 'internal-'"
    else:
        return
    refuse(context, "input.elb_name", ELBClientError("ValidationError", message))


@patch(ELBv2Backend, "create_target_group")
def _create_target_group(context: RequestContext, original: Any, self: Any, name: str, **kwargs: Any) -> Any:
    _check_name(context, name, "Target group name", load_balancer=False)
    # "This operation is idempotent... If you attempt to create multiple target groups with
    # the same settings, each call succeeds" (API_CreateTargetGroup); moto refuses the name.
    for existing in self.target_groups.values():
        if existing.name == name:
            same = (existing.protocol, str(existing.port), existing.vpc_id) == (
                kwargs.get("protocol"),
                str(kwargs.get("port")),
                kwargs.get("vpc_id"),
            )
            if same:
                return existing
    return original(self, name, **kwargs)


@patch(ELBv2Backend, "create_load_balancer")
def _create_load_balancer(context: RequestContext, original: Any, self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    if context.operation != "CreateLoadBalancer":
        return original(self, name, *args, **kwargs)
    _check_name(context, name, "The load balancer name", load_balancer=True)
    # Idempotent for the same settings, like target groups (API_CreateLoadBalancer).
    subnet_ids = kwargs.get("subnet_ids") if "subnet_ids" in kwargs else (args[1] if len(args) > 1 else None)
    scheme = kwargs.get("scheme", args[3] if len(args) > 3 else "internet-facing")
    for existing in self.load_balancers.values():
        if existing.name == name and existing.scheme == scheme:
            if sorted(s.id for s in existing.subnets) == sorted(subnet_ids or []):
                return existing
    lb = original(self, name, *args, **kwargs)
    session = context.session
    ec2 = self.ec2_backend
    lb.scheme = lb.scheme or "internet-facing"
    if lb.type == "application" and not lb.security_groups:
        # An ALB created without groups gets the VPC's default group.
        lb.security_groups = [ec2.get_default_security_group(lb.vpc_id).id]
    prefix = {"application": "app", "network": "net"}.get(lb.type, "gwy")
    description = f"ELB {prefix}/{lb.name}/{lb.arn.rsplit('/', 1)[-1]}"
    lb._faithful_enis = [
        interfaces.create(
            ec2, subnet, list(lb.security_groups or []), description, "amazon-elb", lb.scheme == "internet-facing"
        ).id
        for subnet in lb.subnets
    ]
    lb._faithful_provisioning = True
    session.after(lb.arn, "load_balancer", "create", partial(_activate, lb))
    return lb


def _activate(lb: Any) -> None:
    lb._faithful_provisioning = False
    lb.state = "active"


@patch(FakeLoadBalancer, "activate")
def _activate_on_describe(context: RequestContext, original: Any, self: FakeLoadBalancer) -> None:
    """moto activates on the first describe; a session's load balancer waits for its time."""
    if not getattr(self, "_faithful_provisioning", False):
        original(self)


@patch(ELBv2Backend, "delete_load_balancer")
def _delete_load_balancer(context: RequestContext, original: Any, self: Any, arn: str) -> Any:
    lb = self.load_balancers.get(arn)
    if context.operation != "DeleteLoadBalancer" or lb is None:
        return original(self, arn)
    if context.rules.deletion and lb.attrs.get("deletion_protection.enabled") == "true":
        message = f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
        refuse(context, "deletion.load_balancer_protection", ELBClientError("OperationNotPermitted", message))
    with _noting_releases(context.session, self):
        result = original(self, arn)
    lb._faithful_provisioning = False
    linger = context.session.config.linger.load_balancer
    interfaces.release(context.session, self.ec2_backend, getattr(lb, "_faithful_enis", []), arn, "load_balancer", linger)
    return result


@patch(ELBv2Backend, "delete_target_group")
def _delete_target_group(context: RequestContext, original: Any, self: Any, target_group_arn: str) -> Any:
    if context.rules.deletion and target_group_arn in self.target_groups and self._any_listener_using(target_group_arn):
        message = f"Target group '{target_group_arn}' is currently in use by a listener or a rule"
        refuse(context, "deletion.target_group", ResourceInUseError(message))
    with logged_as(context, "deletion.target_group", "ResourceInUse"):
        return original(self, target_group_arn)


@patch(ELBv2Backend, "register_targets")
def _register_targets(
    context: RequestContext, original: Any, self: Any, target_group_arn: str, instances: list[Any]
) -> Any:
    """Targets must be `running` (moto checks; the layer names the rule); new ones start
    `initial` (API_TargetHealth: `Elb.RegistrationInProgress`)."""
    with logged_as(context, "state.register", "InvalidTarget"):
        result = original(self, target_group_arn, instances)
    target_group = self.target_groups[target_group_arn]
    health.registered(context.session, self, target_group, [target["Id"] for target in instances])
    return result


@patch(ELBv2Backend, "deregister_targets")
def _deregister_targets(
    context: RequestContext, original: Any, self: Any, target_group_arn: str, instances: list[dict[str, Any]]
) -> Any:
    """A registered target drains for the group's `deregistration_delay.timeout_seconds`
    (API_DeregisterTargets, "Deregistration delay"); one that is not registered is no error."""
    target_group = self.target_groups.get(target_group_arn)
    if target_group is None:
        return original(self, target_group_arn, instances)
    for target in instances:
        if target["Id"] in target_group.targets:
            health.deregister(context.session, target_group, target["Id"])
    return None


@patch(ELBv2Backend, "describe_target_health")
def _describe_target_health(
    context: RequestContext, original: Any, self: Any, target_group_arn: str, targets: list[dict[str, Any]]
) -> Any:
    target_group = self.target_groups.get(target_group_arn)
    if target_group is None:
        return original(self, target_group_arn, targets)
    return health.describe(context.session, self, target_group, targets)


@patch(ELBv2Backend, "notify_terminate_instances")
def _notify_terminate_instances(context: RequestContext, original: Any, self: Any, instance_ids: list[str]) -> None:
    """moto drops the targets at TerminateInstances; a session's instance leaves its target
    groups once it is `terminated` (`health.instance_terminated`), after `shutting-down`."""


def _track_releases(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    with _noting_releases(context.session, self):
        return original(self, *args, **kwargs)


for _name in (
    "create_rule",
    "delete_listener",
    "delete_rule",
    "modify_listener",
    "modify_rule",
    "remove_listener_certificates",
):
    patch(ELBv2Backend, _name)(_track_releases)


@contextmanager
def _noting_releases(session: Session, backend: Any) -> Iterator[None]:
    """Note target groups no longer forwarded to, and certificates no longer served, by the
    call; and groups now forwarded to, whose targets' health checks start now."""
    groups_before, certificates_before = _in_use(backend)
    yield
    groups_after, certificates_after = _in_use(backend)
    now = session.now()
    for arn in groups_before - groups_after:
        session.target_groups_released[arn] = now
        session.target_groups_forwarded.pop(arn, None)
    for arn in groups_after - groups_before:
        session.target_groups_forwarded[arn] = now
        target_group = backend.target_groups.get(arn)
        if target_group is not None:
            health.note_checks(session, backend, target_group, list(target_group.targets))
    for arn, (listener_arn, lb_arn) in certificates_before.items():
        if arn not in certificates_after:
            session.certificates_released[arn] = (now, lb_arn)
            _forget_user(backend, arn, listener_arn)


def _in_use(backend: Any) -> tuple[set[str], dict[str, tuple[str, str]]]:
    """Target groups forwarded to, and certificate -> (listener, load balancer) serving it."""
    groups: set[str] = set()
    certificates: dict[str, tuple[str, str]] = {}
    for lb in backend.load_balancers.values():
        for listener in lb.listeners.values():
            for certificate in listener.certificates:
                certificates[certificate] = (listener.arn, lb.arn)
            for rule in listener.rules.values():
                for action in rule.actions:
                    groups.update(backend._get_target_group_arns_from(action_data=action.data))
    return groups, certificates


def _forget_user(backend: Any, certificate_arn: str, listener_arn: str) -> None:
    """Drop the listener from the certificate's `InUseBy`, as ACM does once it notices."""
    acm = acm_backends[backend.account_id][backend.region_name]
    bundle = acm._certificates.get(certificate_arn)
    if bundle is not None and listener_arn in bundle.in_use_by:
        bundle.in_use_by.remove(listener_arn)


@patch(ELBv2Backend, "create_listener")
def _create_listener(
    context: RequestContext, original: Any, self: Any, load_balancer_arn: str, protocol: str, port: str, *args: Any, **kwargs: Any
) -> Any:
    # One listener per port (DuplicateListener), and the same settings again return it
    # (API_CreateListener: idempotent); moto compares the port with listener ARNs and so
    # makes a second listener on the same port.
    balancer = self.load_balancers.get(load_balancer_arn)
    for existing in (balancer.listeners.values() if balancer else []):
        if str(existing.port) == str(port):
            if existing.protocol == protocol:
                return existing
            raise ELBClientError("DuplicateListener", "A listener already exists on this port for this load balancer")
    with _noting_releases(context.session, self):
        return original(self, load_balancer_arn, protocol, port, *args, **kwargs)
