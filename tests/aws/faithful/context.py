"""The global lock, the request being served, and the helpers that hook rules into moto.

moto is not thread-safe, so one re-entrant lock guards every moto dispatch and every state
transition. werkzeug serves each request on its own thread and moto dispatches it
synchronously, so a thread-local tells a patched backend method which session (if any) the
call belongs to. Patches are class-level and applied once; without a session they call
straight through to moto.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from moto.core.exceptions import JsonRESTError, ServiceException

from .config import Rules
from .protocol import AwsRequest
from .session import Session

LOCK = threading.RLock()

_local = threading.local()

MotoError = (ServiceException, JsonRESTError)


@dataclass(frozen=True)
class RequestContext:
    """The session and AWS call a moto dispatch is serving."""

    session: Session
    request: AwsRequest

    @property
    def operation(self) -> str:
        return self.request.operation

    @property
    def rules(self) -> Rules:
        return self.session.config.rules


def current() -> RequestContext | None:
    """The session request this thread is serving, or None for plain moto traffic."""
    return getattr(_local, "context", None)


@contextmanager
def serving(context: RequestContext) -> Iterator[None]:
    """Mark this thread as serving `context` while moto handles it."""
    _local.context = context
    try:
        yield
    finally:
        _local.context = None


PatchFn = Callable[..., Any]


def patch(owner: type, name: str) -> Callable[[PatchFn], PatchFn]:
    """Replace `owner.name` with `fn(context, original, self, *args, **kwargs)` for session calls.

    Calls outside a session, and calls from inside a transition, reach moto's original.
    """

    def install(fn: PatchFn) -> PatchFn:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            context = current()
            if context is None:
                return original(self, *args, **kwargs)
            return fn(context, original, self, *args, **kwargs)

        setattr(owner, name, wrapper)
        return fn

    return install


def code_of(error: Exception) -> str:
    """The AWS error code of one of moto's exceptions."""
    if isinstance(error, JsonRESTError):
        return error.error_type
    return str(getattr(error, "code", type(error).__name__))


def refuse(context: RequestContext, rule: str, error: Exception) -> NoReturn:
    """Log a refusal under `rule` and raise moto's exception, which moto renders as AWS does."""
    context.session.log("refused", rule, context.operation, code_of(error), str(getattr(error, "message", error)))
    raise error


@contextmanager
def logged_as(context: RequestContext, rule: str, *codes: str) -> Iterator[None]:
    """Log refusals moto itself makes with one of `codes` under the layer's rule name."""
    try:
        yield
    except MotoError as error:
        if code_of(error) in codes:
            context.session.log("refused", rule, context.operation, code_of(error), str(error.message))
        raise
