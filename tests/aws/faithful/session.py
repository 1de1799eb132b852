"""One test session: its moto account, its emulated clock, its schedule and its log.

Time is lazy: a lifecycle transition is an action on a heap, due at a real (monotonic) time,
and `advance()` runs the due ones at the start of every request and control call of the
session (under the global lock). Emulated durations are divided by the session's `scale`.
Every random decision comes from `random.Random(f"{seed}:{kind}:{key}:{n}")`, `n` counting
that decision's occurrences in the session, so a seed and a request sequence fix the run.

Durations (typical AWS figures, emulated seconds): p50 with the [min, max] a `sampled`
session draws from, triangularly around the p50.
"""

from __future__ import annotations

import heapq
import itertools
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .buckets import BucketSpec, TokenBucket
from .config import Config

# (kind, phase[, variant]) -> (p50, min, max) in emulated seconds.
DURATIONS: dict[str, tuple[float, float, float]] = {
    "vpc.create": (2, 1, 5),
    "subnet.create": (2, 1, 5),
    "nat_gateway.create": (100, 60, 180),
    "nat_gateway.delete": (60, 30, 120),
    "instance.create": (30, 10, 60),
    "instance.delete": (45, 30, 90),
    "instance.stop": (30, 15, 60),
    "db_instance.create.multi_az": (690, 480, 1500),
    "db_instance.create.single_az": (330, 240, 600),
    "db_instance.backup": (30, 30, 30),
    "db_instance.delete.multi_az": (420, 240, 900),
    "db_instance.delete.single_az": (300, 240, 900),
    "db_instance.modify": (10, 10, 10),
    # A new class, storage or Multi-AZ applied at once: minutes of `modifying`.
    "db_instance.modify.scale": (300, 180, 900),
    "file_system.create": (10, 5, 15),
    "file_system.delete": (10, 5, 15),
    "mount_target.create": (85, 60, 150),
    "mount_target.delete": (45, 30, 60),
    "load_balancer.create": (135, 90, 180),
}

Action = Callable[[], None]

# Operations that only read, by the prefix of their name; every other call counts as mutating.
READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup")


@dataclass(frozen=True)
class Event:
    """Something the layer did instead of what moto would have done."""

    t: float
    type: str  # refused | lag | throttled | fault | denied
    rule: str
    operation: str
    code: str
    message: str


@dataclass(frozen=True)
class Lifecycle:
    """One phase of one object: the emulated time it takes and when it ends in real time."""

    id: str
    kind: str
    phase: str  # create | delete | modify | start | stop | register | deregister | linger
    start: float
    end: float
    emulated_seconds: float


class Session:
    """The state of one test session; every method runs under the global lock."""

    def __init__(
        self,
        session_id: str,
        access_key: str,
        account_id: str,
        config: Config,
    ) -> None:
        self.id = session_id
        self.access_key = access_key
        self.account_id = account_id
        self.config = config
        self._started = time.monotonic()
        self._heap: list[tuple[float, int, Action]] = []
        self._order = itertools.count()
        self._occurrences: dict[tuple[str, str], int] = {}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self.events: list[Event] = []
        self.calls: dict[str, int] = {}  # "service:Operation" -> AWS calls signed by the session
        self.lifecycles: list[Lifecycle] = []
        # Propagation bookkeeping, real times since the session started.
        self.created: dict[str, tuple[str, float]] = {}  # object id -> (kind, time)
        self.running_since: dict[str, float] = {}  # instance id -> time it became running
        self.target_groups_released: dict[str, float] = {}  # TG arn -> last forward removed
        self.target_groups_forwarded: dict[str, float] = {}  # TG arn -> first forward (while it lasts)
        self.certificates_released: dict[str, tuple[float, str]] = {}  # cert arn -> (time, LB arn)
        self.instance_profiles_changed: dict[str, float] = {}  # profile name -> created or role added
        # Interfaces whose owner is gone: ENI id -> (owner id, owner kind).
        self.lingering: dict[str, tuple[str, str]] = {}
        self.nat_gateways_created = 0
        # Answers to calls with a client token, by (region, operation, token).
        self.idempotent: dict[tuple[str, str, str], tuple[str, list[tuple[str, str]], bytes]] = {}

    # -- time ------------------------------------------------------------------------------

    def now(self) -> float:
        """Real seconds since the session started."""
        return time.monotonic() - self._started

    def emulated_since(self, t: float) -> float:
        """Emulated seconds elapsed since real session time `t`."""
        return (self.now() - t) * self.config.scale

    # -- random decisions ------------------------------------------------------------------

    def rng(self, kind: str, key: str) -> random.Random:
        """The generator for the next `kind` decision about `key` (an operation or object kind)."""
        n = self._occurrences.get((kind, key), 0)
        self._occurrences[(kind, key)] = n + 1
        return random.Random(f"{self.config.seed}:{kind}:{key}:{n}")

    def duration(self, name: str) -> float:
        """Emulated seconds of lifecycle phase `name` (a key of DURATIONS) for the next object."""
        p50, low, high = DURATIONS[name]
        if self.config.durations == "p50" or low == high:
            return p50
        return self.rng("duration", name).triangular(low, high, p50)

    # -- schedule --------------------------------------------------------------------------

    def schedule(self, emulated_delay: float, action: Action) -> None:
        """Run `action` once `emulated_delay` emulated seconds have passed."""
        due = time.monotonic() + emulated_delay / self.config.scale
        heapq.heappush(self._heap, (due, next(self._order), action))

    def advance(self) -> None:
        """Apply every transition that is due; a failing one is reported and skipped."""
        now = time.monotonic()
        while self._heap and self._heap[0][0] <= now:
            _, _, action = heapq.heappop(self._heap)
            try:
                action()
            except Exception:  # an object reset or deleted under its own transition
                print(f"faithful: session {self.id}: transition failed", file=sys.stderr)
                traceback.print_exc()

    def phases(self, obj_id: str, kind: str, phase: str, steps: list[tuple[float, Action]]) -> None:
        """Record one lifecycle phase made of consecutive steps and schedule each step's end.

        With the `lifecycle` rule off (or for `linger` with `lingering` off) every step runs
        at once: the object goes straight to its final state, as on plain moto.
        """
        rules = self.config.rules
        enabled = rules.lingering if phase == "linger" else rules.lifecycle
        if not enabled:
            for _, action in steps:
                action()
            return
        total = sum(seconds for seconds, _ in steps)
        start = self.now()
        self.lifecycles.append(
            Lifecycle(obj_id, kind, phase, round(start, 3), round(start + total / self.config.scale, 3), total)
        )
        elapsed = 0.0
        for seconds, action in steps:
            elapsed += seconds
            self.schedule(elapsed, action)

    def after(self, obj_id: str, kind: str, phase: str, action: Action, variant: str = "") -> None:
        """Run `action` when the object's `phase` (its DURATIONS entry) is over."""
        name = f"{kind}.{phase}" + (f".{variant}" if variant else "")
        self.phases(obj_id, kind, phase, [(self.duration(name), action)])

    # -- log -------------------------------------------------------------------------------

    def log(self, type_: str, rule: str, operation: str, code: str, message: str) -> None:
        self.events.append(Event(round(self.now(), 3), type_, rule, operation, code, message))

    def count_call(self, service: str, operation: str) -> None:
        """Count one AWS call of the session, whatever its answer; `?` when it names no operation."""
        key = f"{service}:{operation or '?'}"
        self.calls[key] = self.calls.get(key, 0) + 1

    def log_json(self) -> dict[str, Any]:
        summary: dict[str, dict[str, int]] = {}
        for event in self.events:
            rules = summary.setdefault(event.type, {})
            rules[event.rule] = rules.get(event.rule, 0) + 1
        mutating = sum(
            count
            for key, count in self.calls.items()
            if not key.split(":", 1)[1].startswith(READ_ONLY_PREFIXES)  # "?" is mutating
        )
        return {
            "events": [asdict(e) for e in self.events],
            "summary": summary,
            "lifecycles": [asdict(lc) for lc in self.lifecycles],
            "calls": dict(sorted(self.calls.items())),
            "mutating": mutating,
        }

    # -- token buckets ---------------------------------------------------------------------

    def take_tokens(self, region: str, specs: tuple[BucketSpec, ...]) -> BucketSpec | None:
        """Take a token from each bucket, or none and return the first empty bucket."""
        now = time.monotonic()
        buckets = []
        for spec in specs:
            bucket = self._buckets.get((region, spec.name))
            if bucket is None:
                bucket = self._buckets[(region, spec.name)] = TokenBucket(spec, now)
            bucket.refill(now)
            buckets.append(bucket)
        for bucket in buckets:
            if not bucket.has_token():
                return bucket.spec
        for bucket in buckets:
            bucket.take()
        return None

    # -- propagation -----------------------------------------------------------------------

    def note_created(self, obj_id: str, kind: str) -> None:
        """Remember a creation: other calls naming the id lag behind it for `lag` seconds."""
        self.created[obj_id] = (kind, self.now())

    def fresh(self, obj_id: str, window: float) -> str | None:
        """The kind of `obj_id` if it was created less than `window` emulated seconds ago."""
        entry = self.created.get(obj_id)
        if entry is None or self.emulated_since(entry[1]) >= window:
            return None
        return entry[0]


class Registry:
    """All live sessions, by id and by access key."""

    # Account ids count up from here; moto's default account 123456789012 stays free.
    FIRST_ACCOUNT = 700000000001

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._by_key: dict[str, Session] = {}
        self._next = 0

    def create(self, config: Config) -> Session:
        n = self._next
        self._next += 1
        session = Session(
            session_id=f"s{n:04d}",
            access_key=f"AKIAFAITHFUL{n:08d}",
            account_id=str(self.FIRST_ACCOUNT + n),
            config=config,
        )
        self._by_id[session.id] = session
        self._by_key[session.access_key] = session
        return session

    def get(self, session_id: str) -> Session | None:
        return self._by_id.get(session_id)

    def by_access_key(self, access_key: str) -> Session | None:
        return self._by_key.get(access_key)

    def remove(self, session: Session) -> None:
        self._by_id.pop(session.id, None)
        self._by_key.pop(session.access_key, None)
