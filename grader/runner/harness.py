"""Stand-ins that let student hooks run outside or beside a real Trainer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Anything:
    """Accepts any attribute access or call, like a disabled experiment tracker."""

    def __getattr__(self, name: str) -> Anything:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Anything:
        return self


def recording_subclass(cls: type, logged: list[str]) -> type:
    """A subclass whose `self.log`/`self.log_dict` record names and whose logger is inert.

    Step hooks probed outside the Trainer would otherwise fail on `self.logger.experiment`.
    """

    def log(self: Any, name: str, *args: Any, **kwargs: Any) -> None:
        logged.append(str(name))

    def log_dict(self: Any, metrics: Any, *args: Any, **kwargs: Any) -> None:
        logged.extend(str(key) for key in dict(metrics))

    return type(cls.__name__, (cls,), {"log": log, "log_dict": log_dict, "logger": Anything()})


def inert_logger(lightning: Any) -> Any:
    """A Lightning logger of the student's own package that records nothing."""

    class InertLogger(lightning.Logger):
        name = "grader"
        version = 0

        @property
        def experiment(self) -> Anything:
            return Anything()

        def log_hyperparams(self, *args: Any, **kwargs: Any) -> None:
            pass

        def log_metrics(self, *args: Any, **kwargs: Any) -> None:
            pass

    return InertLogger()


def call_step(hook: Callable[..., Any], batch: Any) -> Any:
    """Call `training_step(batch, batch_idx)` or the legal short form `training_step(batch)`."""
    import inspect

    try:
        parameters = inspect.signature(hook).parameters.values()
    except (TypeError, ValueError):
        return hook(batch, 0)
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind == p.VAR_POSITIONAL for p in parameters)
    return hook(batch, 0) if variadic or len(positional) >= 2 else hook(batch)
