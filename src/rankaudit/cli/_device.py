"""`--device`, shared by every command that explains torch rankers: one option, checked before
any work (a missing GPU is one line and exit 2, not a failure in the middle of a run)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from rankaudit.errors import ParameterError

if TYPE_CHECKING:
    from rankaudit.attribution.settings import AttributionSettings

__all__ = ["DeviceOption", "check_device", "with_device"]

S = TypeVar("S", bound="AttributionSettings")

DeviceOption = Annotated[
    str,
    typer.Option(help="auto, cpu, cuda or mps: where torch rankers are explained."),
]
# AttributionSettings' devices, written out so that `rankaudit --help` stays light.
_DEVICES = ("auto", "cpu", "cuda", "mps")


def check_device(device: str) -> str:
    """Return `device` once it names a device torch can use here; raises ParameterError."""
    if device not in _DEVICES:
        raise ParameterError(
            f"The '--device' option must be one of {', '.join(_DEVICES)}. Got {device!r} instead."
        )
    if device != "cpu":
        from rankaudit.models.torch_ranker import resolve_device

        resolve_device(device)
    return device


def with_device(settings: S, device: str) -> S:
    """Return `settings` with `device` (checked); the same object for the CPU default."""
    check_device(device)
    return settings if settings.device == device else replace(settings, device=device)  # type: ignore[arg-type]
