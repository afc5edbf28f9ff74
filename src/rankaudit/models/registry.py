"""Model kinds -> adapter classes, imported only when a model of that kind is loaded.

The table holds "module:Class" strings rather than classes so that `import rankaudit.models`
never pulls in torch, lightgbm or xgboost; a workspace that only audits a LightGBM model never
pays for importing torch.
"""

from __future__ import annotations

import functools
import importlib
from typing import cast

from rankaudit.errors import ModelLoadError, UnknownKeyError
from rankaudit.models.base import ModelConfig, Ranker, RankerAdapter

__all__ = ["available_kinds", "load_ranker", "register_adapter"]

_ADAPTERS: dict[str, str | type] = {
    "torch": "rankaudit.models.torch_ranker:TorchRanker",
    "lightgbm": "rankaudit.models.trees:LightGBMRanker",
    "xgboost": "rankaudit.models.trees:XGBoostRanker",
    "linear": "rankaudit.models.linear:LinearRanker",
    "logged": "rankaudit.models.served:LoggedRanker",
    "chronological": "rankaudit.models.served:ChronologicalRanker",
}


def available_kinds() -> tuple[str, ...]:
    """Return every registered model kind, sorted."""
    return tuple(sorted(_ADAPTERS))


def register_adapter(kind: str, target: str | type, *, replace: bool = False) -> None:
    """Register an adapter class for `kind`, as a "package.module:Class" string or a class.

    The class must provide `from_config(config) -> Ranker`. A string target is imported only
    when a model of that kind is first loaded. Registering an existing kind raises ValueError
    unless `replace=True`.
    """
    if not kind or not isinstance(kind, str):
        raise ValueError(
            "The 'kind' parameter of register_adapter must be a non-empty str. "
            f"Got {kind!r} instead."
        )
    if isinstance(target, str) and (target.count(":") != 1 or not all(target.split(":"))):
        raise ValueError(
            "The 'target' parameter of register_adapter must be 'package.module:Class'. "
            f"Got {target!r} instead."
        )
    if kind in _ADAPTERS and not replace:
        raise ValueError(
            f"model kind {kind!r} is already registered ({_describe(_ADAPTERS[kind])}); "
            "pass replace=True to override it"
        )
    _ADAPTERS[kind] = target


def _describe(target: str | type) -> str:
    return target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"


def _resolve(kind: str, target: str | type) -> RankerAdapter:
    if isinstance(target, str):
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ModelLoadError(
                f"cannot import the adapter for kind {kind!r} ({target}): {exc}"
            ) from None
        try:
            adapter: object = getattr(module, attribute)
        except AttributeError:
            raise ModelLoadError(
                f"the adapter for kind {kind!r} ({target}) does not exist: "
                f"module {module_name!r} has no attribute {attribute!r}"
            ) from None
    else:
        adapter = target
    if not callable(getattr(adapter, "from_config", None)):
        raise ModelLoadError(
            f"the adapter for kind {kind!r} ({_describe(target)}) "
            "has no from_config(config) classmethod"
        )
    return cast(RankerAdapter, adapter)


def load_ranker(config: ModelConfig) -> Ranker:
    """Return the ranker `config` describes, loaded by the adapter registered for its kind.

    Raises UnknownKeyError (a WorkspaceError) listing the valid kinds when the kind is unknown,
    and the adapter's own rankaudit errors when options or files are wrong.
    """
    target = _ADAPTERS.get(config.kind)
    if target is None:
        raise UnknownKeyError(
            f"{config.source}: unknown model kind {config.kind!r}; "
            f"valid kinds: {', '.join(available_kinds())}"
        )
    ranker = _resolve(config.kind, target).from_config(config)
    # A third-party adapter that forgets a member would otherwise fail much later, deep in an
    # attribution run; say so while the model's name is at hand.
    if not isinstance(ranker, Ranker):
        missing = [m for m in _RANKER_MEMBERS if not hasattr(ranker, m)]
        raise ModelLoadError(
            f"{config.source}: the adapter for kind {config.kind!r} returned "
            f"{type(ranker).__name__}, which lacks Ranker member(s): {', '.join(missing)}"
        )
    return ranker


_RANKER_MEMBERS = (
    "name",
    "kind",
    "feature_names",
    "categorical_features",
    "required_columns",
    "heads",
    "head_weights",
    "fingerprint",
    "description",
    "score",
    "head_scores",
)


@functools.lru_cache(maxsize=8)
def cached_ranker(config: ModelConfig) -> Ranker:
    """`load_ranker`, once per process and config: the models of a batch run's worker, loaded
    by its task's `setup` and reused for every partition."""
    return load_ranker(config)
