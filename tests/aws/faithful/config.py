"""Session configuration: the JSON a test sends to `/_faithful/sessions`, parsed and checked.

Every field is optional. Durations are emulated seconds (divided by `scale` to get real
seconds); `faults` are fractions of AWS calls and `slow_seconds` is real time. A PATCH merges
its JSON into the current configuration (`rules`, `linger` and `faults` key by key, every
other field replaced whole) and parses the result again, so a bad patch leaves the session
unchanged.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Services the layer models, named as in the SigV4 credential scope.
SERVICES = ("ec2", "rds", "elasticloadbalancing", "elasticfilesystem", "acm", "ssm")


class ConfigError(ValueError):
    """A configuration the layer cannot run with; the message names the field."""


@dataclass(frozen=True)
class Rules:
    """Which families of AWS behaviour the layer enforces."""

    deletion: bool = True
    input: bool = True
    lifecycle: bool = True
    lingering: bool = True
    propagation: bool = True
    buckets: bool = True
    pagination: bool = True


@dataclass(frozen=True)
class Linger:
    """Emulated seconds a deleted owner's network interfaces stay visible."""

    load_balancer: float = 60
    nat_gateway: float = 30
    mount_target: float = 30
    db_instance: float = 60


@dataclass(frozen=True)
class Faults:
    """Fractions of AWS calls that fail or misbehave; `slow_seconds` is real time."""

    throttle: float = 0.0
    http500: float = 0.0
    http503: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 0.5
    drop_before: float = 0.0
    drop_after: float = 0.0

    def fractions(self) -> tuple[tuple[str, float], ...]:
        """The fault kinds in the order one random draw is partitioned among them."""
        return (
            ("throttle", self.throttle),
            ("http500", self.http500),
            ("http503", self.http503),
            ("slow", self.slow),
            ("drop_before", self.drop_before),
            ("drop_after", self.drop_after),
        )


@dataclass(frozen=True)
class Denial:
    """A permanent refusal of one operation, as an IAM policy without the permission gives."""

    operation: str
    code: str = "AccessDenied"


@dataclass(frozen=True)
class Config:
    """Everything a session can be told; see the README for each field's meaning."""

    seed: int | str = 1
    scale: float = 60
    region: str = "us-east-1"
    rules: Rules = field(default_factory=Rules)
    durations: str = "p50"
    linger: Linger = field(default_factory=Linger)
    lag: float = 15
    register_lag: float = 15
    target_group_in_use_lag: float = 10
    certificate_in_use_lag: float = 30
    iam_lag: float = 10
    faults: Faults = field(default_factory=Faults)
    deny: tuple[Denial, ...] = ()
    unavailable: frozenset[str] = frozenset()
    fail_nat_gateways: int = 0
    # Availability zone -> instance types EC2 does not offer there (sorted).
    missing_offerings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # "service/quota code" -> applied value; None: Service Quotas calls reach moto.
    quotas: dict[str, float] | None = None

    @classmethod
    def parse(cls, raw: Any) -> Config:
        """Build a configuration from decoded JSON, refusing unknown or ill-typed fields."""
        if not isinstance(raw, Mapping):
            raise ConfigError("the configuration must be a JSON object")
        _no_unknown(raw, cls, "")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name in ("rules", "linger", "faults"):
                values[name] = _section(value, _SECTIONS[name], name)
            elif name == "seed":
                if isinstance(value, bool) or not isinstance(value, (int, str)):
                    raise ConfigError("seed: expected an integer or a string")
                values[name] = value
            elif name in ("region", "durations"):
                if not isinstance(value, str):
                    raise ConfigError(f"{name}: expected a string")
                values[name] = value
            elif name == "fail_nat_gateways":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ConfigError("fail_nat_gateways: expected a non-negative integer")
                values[name] = value
            elif name == "deny":
                values[name] = _denials(value)
            elif name == "unavailable":
                values[name] = _services(value)
            elif name == "missing_offerings":
                values[name] = _offerings(value)
            elif name == "quotas":
                values[name] = _quotas(value)
            else:
                values[name] = _number(value, name)
        config = cls(**values)
        if config.scale <= 0:
            raise ConfigError("scale: must be greater than 0")
        if config.durations not in ("p50", "sampled"):
            raise ConfigError('durations: expected "p50" or "sampled"')
        for kind, fraction in config.faults.fractions():
            if fraction > 1:
                raise ConfigError(f"faults.{kind}: a fraction must be at most 1")
        return config

    def to_json(self) -> dict[str, Any]:
        """The configuration as JSON-ready data (the form PATCH merges into)."""
        data = dataclasses.asdict(self)
        data["deny"] = [dataclasses.asdict(d) for d in self.deny]
        data["unavailable"] = sorted(self.unavailable)
        data["missing_offerings"] = {zone: list(types) for zone, types in self.missing_offerings.items()}
        return data

    def quota(self, key: str) -> float | None:
        """The applied value the session gives quota `key` ("ec2/L-0263D0A3"), if any."""
        return None if self.quotas is None else self.quotas.get(key)

    def merged(self, patch: Any) -> Config:
        """This configuration with `patch` merged in, nested objects key by key."""
        if not isinstance(patch, Mapping):
            raise ConfigError("the configuration must be a JSON object")
        data = self.to_json()
        for name, value in patch.items():
            if name in _SECTIONS and isinstance(value, Mapping):
                data[name] = {**data[name], **value}
            else:
                data[name] = value
        return Config.parse(data)


_SECTIONS: dict[str, type] = {"rules": Rules, "linger": Linger, "faults": Faults}


def _no_unknown(raw: Mapping[str, Any], cls: type, prefix: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown field {prefix}{unknown[0]}")


def _section(raw: Any, cls: type, name: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{name}: expected an object")
    _no_unknown(raw, cls, f"{name}.")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if cls is Rules:
            if not isinstance(value, bool):
                raise ConfigError(f"{name}.{key}: expected true or false")
            values[key] = value
        else:
            values[key] = _number(value, f"{name}.{key}")
    return cls(**values)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{name}: expected a non-negative number")
    return float(value)


def _denials(raw: Any) -> tuple[Denial, ...]:
    if not isinstance(raw, list):
        raise ConfigError("deny: expected a list")
    denials = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("operation"), str):
            raise ConfigError(f"deny[{i}]: expected an object with an operation")
        _no_unknown(item, Denial, f"deny[{i}].")
        code = item.get("code", "AccessDenied")
        if not isinstance(code, str):
            raise ConfigError(f"deny[{i}].code: expected a string")
        denials.append(Denial(operation=item["operation"], code=code))
    return tuple(denials)


def _services(raw: Any) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ConfigError("unavailable: expected a list of service names")
    unknown = sorted(set(raw) - set(SERVICES))
    if unknown:
        raise ConfigError(f"unavailable: unknown service {unknown[0]} (known: {', '.join(SERVICES)})")
    return frozenset(raw)


_ZONE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d[a-z]")
# A Service Quotas key: the ServiceCode and QuotaCode patterns of API_GetServiceQuota.
_QUOTA_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9-]{1,63}/[a-zA-Z][a-zA-Z0-9-]{1,128}")


def _offerings(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise ConfigError('missing_offerings: expected an object like {"us-east-1c": ["c5.xlarge"]}')
    offerings = {}
    for zone, types in raw.items():
        if not _ZONE.fullmatch(zone):
            raise ConfigError(f"missing_offerings: {zone!r} is not an availability zone name")
        if not isinstance(types, list) or not all(isinstance(t, str) and t for t in types):
            raise ConfigError(f"missing_offerings.{zone}: expected a list of instance types")
        offerings[zone] = tuple(sorted(set(types)))
    return offerings


def _quotas(raw: Any) -> dict[str, float] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError('quotas: expected an object like {"ec2/L-1216C47A": 32}')
    quotas = {}
    for key, value in raw.items():
        if not _QUOTA_KEY.fullmatch(key):
            raise ConfigError(f"quotas: {key!r} is not service-code/quota-code")
        quotas[key] = _number(value, f"quotas.{key}")
    return quotas
