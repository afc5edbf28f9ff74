"""Importing the optional model libraries (lightgbm, xgboost) on first use.

Both libraries import scikit-learn when it is installed, only to define their scikit-learn
estimator classes (`LGBMRanker`, `XGBRanker`); with it come scipy.stats and about half a second
of a command's start-up. rankaudit reads boosters through `lightgbm.Booster` and
`xgboost.Booster` alone, so the command line (`rankaudit.cli.main`, a process of rankaudit's
own) calls `skip_estimator_apis()`: the first import of either library then sees
scikit-learn as absent, and scikit-learn stays importable for everything else. In any other
process (a notebook, a test, a program using rankaudit as a library) the libraries are
imported as they are, since their user may want the estimators.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from rankaudit.errors import ModelLoadError

__all__ = ["import_model_library", "skip_estimator_apis"]

_skip_estimators = False


def skip_estimator_apis() -> None:
    """Import lightgbm and xgboost without their scikit-learn estimators in this process."""
    global _skip_estimators
    _skip_estimators = True


def import_model_library(name: str, hint: str) -> ModuleType:
    """Return the imported library `name`; ModelLoadError with `hint` when it is missing."""
    hide = _skip_estimators and name not in sys.modules and "sklearn" not in sys.modules
    if hide:
        sys.modules["sklearn"] = None  # type: ignore[assignment]  # import sklearn -> ImportError
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ModelLoadError(f"{name} is not installed; {hint}") from None
    finally:
        if hide and sys.modules.get("sklearn", 0) is None:
            del sys.modules["sklearn"]
