"""ELBv2 target health, derived from the session's clock.

moto answers `healthy` for every registered target at once (even in a target group no
listener forwards to) and drops a deregistered target at once. AWS (API_TargetHealth,
API_DeregisterTargets, and the ALB guide's "Health checks for your target groups" and
"Deregistration delay") shows a target:

- `initial` (`Elb.RegistrationInProgress`) until the load balancer has seen
  `HealthyThresholdCount` consecutive successful checks, one every
  `HealthCheckIntervalSeconds`: about interval x threshold emulated seconds (150 s with the
  defaults 30 x 5) from the moment it is registered, its group is forwarded to, and (for an
  instance target) its instance is `running`, whichever comes last; then `healthy`;
- `unused` (`Target.NotInUse`) while no listener or rule forwards to its group;
- `unused` (`Target.InvalidState`) while its instance is not `running` (stopped, stopping,
  pending again after a start, shutting down); checks start over once it runs again;
- `draining` (`Target.DeregistrationInProgress`) for the group's
  `deregistration_delay.timeout_seconds` (300 by default) after `DeregisterTargets`, then
  gone; registering it again makes it `initial` again;
- gone once its instance is `terminated` (AWS deregisters terminated instances).

The state is computed when asked, from timestamps kept on moto's target group objects and
in the session, so no transition can be missed when an instance stops or a listener goes.
The health checks' window is also recorded as a `register` lifecycle (kind `target`, id
`<target group arn>|<target id>`) when it starts, and the draining as a `deregister` one.
With the `lifecycle` rule off when a target is registered it is `healthy` at once, and a
draining target goes at once, as on plain moto.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup, elbv2_backends

from .session import Session

REGISTRATION = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
NOT_IN_USE = ("unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer")
DRAINING = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
# Transitional states, as the inventory lists them.
UNSETTLED = ("initial", "draining")


@dataclass
class Registration:
    """When a target was registered, and whether its health checks take time."""

    at: float  # real session seconds
    checked: bool  # the lifecycle rule was on: it starts `initial`
    recorded: float | None = None  # clock start of the last `register` lifecycle recorded


def registrations(tg: FakeTargetGroup) -> dict[str, Registration]:
    """Target id -> its registration, for targets moto holds as registered."""
    return tg.__dict__.setdefault("_faithful_registrations", {})


def draining(tg: FakeTargetGroup) -> dict[str, tuple[dict[str, Any], object]]:
    """Target id -> (moto's target description, token of its draining phase)."""
    return tg.__dict__.setdefault("_faithful_draining", {})


def window(tg: FakeTargetGroup) -> float:
    """Emulated seconds from the first health check to `healthy`: interval x healthy threshold."""
    return float(tg.health_check_interval_seconds or 30) * float(tg.healthy_threshold_count or 5)


def deregistration_delay(tg: FakeTargetGroup) -> float:
    return float(tg.attributes.get("deregistration_delay.timeout_seconds", 300))


def _instance(backend: Any, tg: FakeTargetGroup, target_id: str) -> Any:
    if tg.target_type != "instance":
        return None
    return backend.ec2_backend.get_instance_by_id(target_id)


def _clock_start(session: Session, tg: FakeTargetGroup, target_id: str, registration: Registration) -> float:
    """When the health checks that count started: registration, first forward, instance running."""
    start = max(registration.at, session.target_groups_forwarded.get(tg.arn, 0.0))
    if tg.target_type == "instance":
        start = max(start, session.running_since.get(target_id, 0.0))
    return start


def state(session: Session, backend: Any, tg: FakeTargetGroup, target_id: str) -> tuple[str, str | None, str | None] | None:
    """(state, reason, description) of a target of the group, or None if it is not one."""
    if target_id in draining(tg):
        return DRAINING
    registration = registrations(tg).get(target_id)
    if target_id not in tg.targets or registration is None:
        return None
    if not backend._any_listener_using(tg.arn):
        return NOT_IN_USE
    instance = _instance(backend, tg, target_id)
    if instance is not None and instance.state != "running":
        return ("unused", "Target.InvalidState", f"Target is in the {instance.state} state")
    start = _clock_start(session, tg, target_id, registration)
    if registration.checked and session.emulated_since(start) < window(tg):
        return REGISTRATION
    return ("healthy", None, None)


def describe(session: Session, backend: Any, tg: FakeTargetGroup, targets: list[dict[str, Any]]) -> list[FakeHealthStatus]:
    """DescribeTargetHealth: the named targets, or every registered and draining one."""
    if not targets:
        targets = [*tg.targets.values(), *(t for t, _ in draining(tg).values())]
    answers = []
    for target in targets:
        target_id = target["Id"]
        found = state(session, backend, tg, target_id)
        if found is None:
            answers.append(tg.health_for(target, backend.ec2_backend))  # moto's "not registered" answers
            continue
        known = tg.targets.get(target_id) or draining(tg)[target_id][0]
        status, reason, description = found
        answers.append(FakeHealthStatus(target_id, known["Port"], tg.health_check_port, status, reason, description))
    return answers


def registered(session: Session, backend: Any, tg: FakeTargetGroup, target_ids: list[str]) -> None:
    """Targets were registered: new ones (and draining ones, again) start their checks."""
    entries, leaving = registrations(tg), draining(tg)
    for target_id in target_ids:
        if target_id in leaving or target_id not in entries:
            leaving.pop(target_id, None)  # its draining phase ends without effect
            entries[target_id] = Registration(session.now(), session.config.rules.lifecycle)
    note_checks(session, backend, tg, target_ids)


def deregister(session: Session, tg: FakeTargetGroup, target_id: str) -> None:
    """Take a registered target out of the group: it drains for the deregistration delay."""
    target = tg.targets.pop(target_id)
    registrations(tg).pop(target_id, None)
    tg.deregistered_targets[target_id] = target  # moto's bookkeeping, for its NotRegistered answer
    token = object()
    draining(tg)[target_id] = (target, token)
    steps = [(deregistration_delay(tg), partial(_drained, tg, target_id, token))]
    session.phases(f"{tg.arn}|{target_id}", "target", "deregister", steps)


def _drained(tg: FakeTargetGroup, target_id: str, token: object) -> None:
    entry = draining(tg).get(target_id)
    if entry is not None and entry[1] is token:
        del draining(tg)[target_id]


def note_checks(session: Session, backend: Any, tg: FakeTargetGroup, target_ids: list[str]) -> None:
    """Record the `register` lifecycle of targets whose health checks start now."""
    entries = registrations(tg)
    for target_id in target_ids:
        registration = entries.get(target_id)
        if registration is None or not registration.checked or state(session, backend, tg, target_id) != REGISTRATION:
            continue
        start = _clock_start(session, tg, target_id, registration)
        if registration.recorded != start:
            registration.recorded = start
            # The state is computed when asked; the scheduled step only marks the phase's end.
            session.phases(f"{tg.arn}|{target_id}", "target", "register", [(window(tg), _nothing)])


def _nothing() -> None:
    pass


def instance_running(session: Session, account_id: str, region: str, instance_id: str) -> None:
    """An instance became running: its registrations' health checks start now."""
    backend = _elbv2(account_id, region)
    for tg in list(backend.target_groups.values()) if backend is not None else []:
        if instance_id in tg.targets:
            note_checks(session, backend, tg, [instance_id])


def instance_terminated(account_id: str, region: str, instance_id: str) -> None:
    """A terminated instance leaves every target group it was registered with."""
    backend = _elbv2(account_id, region)
    for tg in list(backend.target_groups.values()) if backend is not None else []:
        if tg.targets.pop(instance_id, None) is not None:
            registrations(tg).pop(instance_id, None)


def _elbv2(account_id: str, region: str) -> Any:
    """The account's ELBv2 backend in the region if it exists, without creating one."""
    account = dict.get(elbv2_backends, account_id)
    return dict.get(account, region) if account is not None else None
