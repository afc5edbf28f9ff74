"""The two module contracts of the `torch` kind, and the adapter that makes them one.

* two-tensor: ``forward(x_num: float32 [N, n_numeric], x_cat: int64 [N, n_categorical])``;
* plain: ``forward(x: float32 [N, n_numeric])``, numeric features only (an ``nn.Sequential``
  MLP, for example).

The rest of rankaudit (scoring, IG, SHAP) calls every module with two tensors; a plain module is
wrapped in `PlainInputs`, whose ``forward(x_num, x_cat)`` calls the user's module on ``x_num``.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass
from typing import Any, Self

import torch
from torch import nn

from rankaudit.errors import ModelLoadError
from rankaudit.models.torch_manifest import TWO_TENSOR, ModuleInputs

__all__ = ["ForwardSignature", "PlainInputs", "forward_signature", "resolve_inputs"]


@dataclass(frozen=True)
class ForwardSignature:
    """The positional parameters of a module's `forward`, self excluded."""

    names: tuple[str, ...]
    required: int
    variadic: bool

    @property
    def text(self) -> str:
        """How messages show it, e.g. ``forward(x)``."""
        return f"forward({', '.join(self.names + (('*args',) if self.variadic else ()))})"

    @property
    def takes_one(self) -> bool:
        """True when `forward` can only be called with one positional tensor."""
        return len(self.names) == 1 and not self.variadic


def forward_signature(module: nn.Module) -> ForwardSignature | None:
    """Return the positional parameters of `module.forward`, or None when they cannot be read.

    Python modules and torch.export programs are read with `inspect.signature`; TorchScript
    methods carry a schema whose first argument is the module itself.
    """
    forward: Any = module.forward
    schema = getattr(forward, "schema", None)
    if isinstance(schema, torch._C.FunctionSchema):
        arguments = [a for a in schema.arguments[1:] if not a.kwarg_only]
        return ForwardSignature(
            names=tuple(a.name for a in arguments),
            required=sum(1 for a in arguments if not a.has_default_value()),
            variadic=False,
        )
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        return None
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return ForwardSignature(
        names=tuple(p.name for p in positional),
        required=sum(1 for p in positional if p.default is inspect.Parameter.empty),
        variadic=any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters),
    )


def resolve_inputs(
    declared: ModuleInputs | None, module: nn.Module, where: str
) -> tuple[ModuleInputs, tuple[str, ...]]:
    """Return (the contract `module` follows, notes) from the manifest's `inputs` or, when it
    is not declared, from the signature of `forward`: exactly one positional parameter besides
    self means a plain module, anything else the two-tensor default.

    Raises ModelLoadError when the declaration cannot be right: 'numeric+categorical' for a
    `forward` that takes one tensor, or 'numeric' for one that needs two or more.
    """
    signature = forward_signature(module)
    if declared is None:
        if signature is not None and signature.takes_one:
            return "numeric", (
                f"inputs: {signature.text} takes one tensor, so it is fed the numeric features "
                'only (detected; declare "inputs" in the manifest to override)',
            )
        return TWO_TENSOR, ()
    if signature is not None:
        wrong = (declared == TWO_TENSOR and signature.takes_one) or (
            declared == "numeric" and signature.required >= 2
        )
        if wrong:
            expected = "numeric" if declared == TWO_TENSOR else TWO_TENSOR
            raise ModelLoadError(
                f"{where}: 'inputs' is {declared!r} but the module's {signature.text} "
                f"takes {len(signature.names)} tensor(s); set 'inputs' to {expected!r} or "
                "leave it out"
            )
    return declared, ()


class PlainInputs(nn.Module):
    """A plain ``forward(x)`` module behind the two-tensor contract: ``forward(x_num, x_cat)``
    returns ``plain(x_num)``; `x_cat` (always [N, 0]) is ignored."""

    def __init__(self, plain: nn.Module) -> None:
        super().__init__()
        self.plain = plain

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> Any:
        return self.plain(x_num)

    def train(self, mode: bool = True) -> Self:
        self.training = mode
        # Programs from torch.export refuse train/eval switching; they run in the mode they
        # were exported in.
        with contextlib.suppress(NotImplementedError):
            self.plain.train(mode)
        return self
