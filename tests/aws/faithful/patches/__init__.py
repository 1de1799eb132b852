"""The rules, hooked into moto's backends and responses: one module per service, and
`capacity` for what a region offers and an account may hold (offerings, quotas).

Importing a module installs its patches (class-level, once). `apply()` imports them all;
it is called by `faithful.app`, so importing this package alone changes nothing.
"""

from __future__ import annotations

import importlib

_MODULES = ("ec2", "elbv2", "rds", "efs", "acm", "iam", "capacity")


def apply() -> None:
    """Install every service's patches (idempotent: Python imports each module once)."""
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")
