"""What happens to a session's call before moto sees it, decided under the global lock.

In order: a service made unavailable answers 503; a denied operation answers 403; an empty
token bucket answers the service's throttling error; then one seeded draw picks at most one
injected fault; finally a propagation delay may refuse the call. The verdict also says
whether to answer slowly or to drop the connection before or after moto carries the call out.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import lag, protocol
from .buckets import buckets_for
from .config import SERVICES
from .protocol import AwsRequest, ErrorAnswer
from .session import Session


@dataclass(frozen=True)
class Verdict:
    """How the middleware handles the call."""

    answer: ErrorAnswer | None = None  # answer this instead of calling moto
    slow_seconds: float = 0.0  # sleep this long (outside the lock) first
    drop_before: bool = False  # close the connection without calling moto
    drop_after: bool = False  # call moto, then close the connection without answering


def decide(session: Session, request: AwsRequest) -> Verdict:
    """The verdict for one call of a session to one of the modelled services."""
    service, operation, config = request.service, request.operation, session.config
    if service not in SERVICES:
        return Verdict()
    if service in config.unavailable:
        return _answer(session, request, "fault", "unavailable", *protocol.unavailable(service))
    for denial in config.deny:
        if denial.operation == operation:
            message = (
                f"User: arn:aws:iam::{session.account_id}:user/test is not authorized to perform: "
                f"{service}:{operation}"
            )
            return _answer(session, request, "denied", "deny", denial.code, message, 403)
    if config.rules.buckets:
        empty = session.take_tokens(request.region, buckets_for(service, operation))
        if empty is not None:
            return _answer(session, request, "throttled", f"bucket.{empty.name}", *protocol.throttling(service))
    fault = _draw_fault(session, operation)
    if fault == "throttle":
        return _answer(session, request, "fault", "fault.throttle", *protocol.throttling(service))
    if fault == "http500":
        return _answer(session, request, "fault", "fault.http500", *protocol.internal_error(service))
    if fault == "http503":
        return _answer(session, request, "fault", "fault.http503", *protocol.unavailable(service))
    if fault == "drop_before":
        session.log("fault", "fault.drop_before", operation, "", "connection closed before the call")
        return Verdict(drop_before=True)
    if config.rules.propagation:
        refusal = lag.check(session, request)
        if refusal is not None:
            return _answer(session, request, "lag", refusal.rule, refusal.code, refusal.message, refusal.status)
    if fault == "slow":
        session.log("fault", "fault.slow", operation, "", f"answered after {config.faults.slow_seconds} s")
        return Verdict(slow_seconds=config.faults.slow_seconds)
    if fault == "drop_after":
        session.log("fault", "fault.drop_after", operation, "", "connection closed after the call")
        return Verdict(drop_after=True)
    return Verdict()


def _draw_fault(session: Session, operation: str) -> str | None:
    """At most one fault kind, from one seeded draw partitioned by the configured fractions."""
    fractions = session.config.faults.fractions()
    if not any(fraction for _, fraction in fractions):
        return None
    draw = session.rng("fault", operation).random()
    bound = 0.0
    for kind, fraction in fractions:
        bound += fraction
        if draw < bound:
            return kind
    return None


def _answer(
    session: Session, request: AwsRequest, type_: str, rule: str, code: str, message: str, status: int
) -> Verdict:
    session.log(type_, rule, request.operation, code, message)
    return Verdict(answer=protocol.error(request.service, code, message, status))
