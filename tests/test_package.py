"""Packaging promises: a light import, a typed package, a console script."""

import subprocess
import sys


def test_import_is_light() -> None:
    code = (
        "import sys, rankaudit, rankaudit.workspace, rankaudit.models; "
        "heavy = {'torch', 'dash', 'plotly', 'shap', 'captum', 'lightgbm'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_version_and_help() -> None:
    import rankaudit

    assert rankaudit.__version__ == "0.1.0"
    result = subprocess.run(
        [sys.executable, "-m", "rankaudit", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("validate", "demo", "fixtures"):
        assert command in result.stdout
