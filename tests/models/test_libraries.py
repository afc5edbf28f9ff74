"""The command line imports lightgbm without scikit-learn (start-up time); other processes
get lightgbm as it is, estimators included. Each case runs in a fresh interpreter, since
what is imported is the point."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("lightgbm")
pytest.importorskip("sklearn")


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.strip()


def test_the_command_line_imports_lightgbm_without_scikit_learn() -> None:
    out = _run(
        "import sys\n"
        "from rankaudit.libraries import import_model_library, skip_estimator_apis\n"
        "skip_estimator_apis()\n"
        "lgb = import_model_library('lightgbm', 'pip install lightgbm')\n"
        "print('sklearn' in sys.modules, hasattr(lgb, 'Booster'))\n"
        "import sklearn.metrics\n"  # still importable for rankaudit's own metrics
        "print(sklearn.metrics.ndcg_score([[1, 0]], [[0.9, 0.1]]))\n"
    )
    assert out.splitlines() == ["False True", "1.0"]


def test_other_processes_keep_the_estimators() -> None:
    out = _run(
        "from rankaudit.libraries import import_model_library\n"
        "lgb = import_model_library('lightgbm', 'pip install lightgbm')\n"
        "import lightgbm.compat\n"
        "print(lightgbm.compat.SKLEARN_INSTALLED)\n"
    )
    assert out == "True"


def test_the_console_script_skips_the_estimators() -> None:
    out = _run(
        "import sys\n"
        "import rankaudit.cli\n"
        "sys.argv = ['rankaudit', '--help']\n"
        "try:\n"
        "    rankaudit.cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "from rankaudit import libraries\n"
        "print(libraries._skip_estimators)\n"
    )
    assert out.splitlines()[-1] == "True"


def test_a_missing_library_is_one_line() -> None:
    from rankaudit.errors import ModelLoadError
    from rankaudit.libraries import import_model_library

    with pytest.raises(ModelLoadError, match=r"^no_such_booster_lib is not installed; pip x$"):
        import_model_library("no_such_booster_lib", "pip x")
