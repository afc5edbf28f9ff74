"""No booster file can crash the process (issue 14, item 3).

LightGBM 4.7 segfaults or aborts on a text model cut short almost anywhere, and XGBoost on some
cuts of a UBJSON model. Files are checked before the native parser sees them; a damaged one is
refused with one line naming it. Each cut is validated in a child process, so that a crash
fails the test instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from rankaudit.models import ModelConfig, load_ranker
from tests.security._workspace import REPO, add_model, make_workspace

#: Cut points, as percentages of the file's size.
CUTS = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 99)
FEATURES = ["topic_similarity", "real_graph_weight", "tweet_age_minutes"]

_CHILD = """
import json, sys
from pathlib import Path
from typer.testing import CliRunner
from rankaudit.cli import app
results = []
for root, target, original in json.loads(sys.argv[1]):
    data = Path(original).read_bytes()
    for percent in json.loads(sys.argv[2]):
        Path(target).write_bytes(data[: len(data) * percent // 100])
        result = CliRunner().invoke(app, ["validate", "--workspace", root])
        results.append([target, percent, result.exit_code, result.stderr])
print(json.dumps(results))
"""
#: The models whose cuts are checked: (kind, file name).
MODELS = (("lightgbm", "model.txt"), ("xgboost", "model.json"), ("xgboost", "model.ubj"))


def _train(kind: str, path: Path) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(300, 3)), columns=FEATURES)
    y = (x["topic_similarity"] + x["real_graph_weight"] > 0).astype(int)
    if kind == "lightgbm":
        params = {"objective": "binary", "num_leaves": 4, "verbose": -1, "num_threads": 1}
        lgb.train(params, lgb.Dataset(x, y), num_boost_round=5).save_model(str(path))
    else:
        params = {"objective": "binary:logistic", "max_depth": 2, "nthread": 1}
        xgb.train(params, xgb.DMatrix(x, y), 5).save_model(str(path))


def test_every_cut_of_a_model_is_refused_in_one_line(tmp_path: Path) -> None:
    cases = []
    for kind, name in MODELS:
        root = make_workspace(tmp_path / name)
        original = tmp_path / f"original-{name}"
        _train(kind, original)
        add_model(root, "gbm", kind, f"models/{name}")
        cases.append([str(root), str(root / "models" / name), str(original)])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(cases), json.dumps(CUTS)],
                           capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
                           check=False)  # fmt: skip
    assert child.returncode == 0, f"the child died ({child.returncode}): {child.stderr[-2000:]}"
    results = json.loads(child.stdout.splitlines()[-1])
    assert [(r[0], r[1]) for r in results] == [(c[1], p) for c in cases for p in CUTS]
    for target, percent, code, err in results:
        assert code == 2, (target, percent, err)
        lines = err.splitlines()
        assert len(lines) == 1, (target, percent, err)
        assert "Traceback" not in err
        assert lines[0].startswith(f"error: {target}: not a"), (percent, lines[0])
        assert "re-save it" in lines[0] or "save it with" in lines[0], (percent, lines[0])


def _lgb_models(tmp_path: Path) -> dict[str, tuple[Path, pd.DataFrame]]:
    """Boosters with what the check must let through: categorical splits, linear leaves, and
    single-leaf trees (whose arrays are empty)."""
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(300, 2)), columns=FEATURES[:2])
    x["client"] = pd.Categorical(rng.choice(["android", "ios", "web"], 300))
    y = ((x[FEATURES[0]] > 0) | (x["client"] == "ios")).astype(int)
    base = {"verbose": -1, "num_threads": 1, "num_leaves": 4}
    boosters = {
        "categorical": lgb.train({**base, "objective": "binary", "min_data_per_group": 5, "cat_smooth": 1},
                                 lgb.Dataset(x, y), 3),
        "linear": lgb.train({**base, "objective": "regression", "linear_tree": True},
                            lgb.Dataset(x[FEATURES[:2]], 2 * x[FEATURES[0]] + 1), 3),
        "stump": lgb.train({**base, "objective": "regression", "min_data_in_leaf": 1000},
                           lgb.Dataset(x[FEATURES[:2]], x[FEATURES[0]]), 2),
    }  # fmt: skip
    out = {}
    for label, booster in boosters.items():
        path = tmp_path / f"{label}.txt"
        booster.save_model(str(path))
        out[label] = (path, x if label == "categorical" else x[FEATURES[:2]])
    return out


def test_the_check_lets_every_kind_of_tree_through(tmp_path: Path) -> None:
    for label, (path, x) in _lgb_models(tmp_path).items():
        ranker = load_ranker(ModelConfig(label, "lightgbm", path=path, options={"output": "raw"}))
        expected = lgb.Booster(model_file=str(path)).predict(x, raw_score=True)
        np.testing.assert_allclose(ranker.score(x), expected, rtol=0, atol=1e-12, err_msg=label)


_LOAD = """
import sys
from pathlib import Path
from rankaudit.models import ModelConfig, load_ranker
from rankaudit.errors import ModelLoadError
try:
    load_ranker(ModelConfig("gbm", "lightgbm", path=Path(sys.argv[1])))
except ModelLoadError as exc:
    print(exc)
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # A leaf index past the leaves: the prediction walk reads out of bounds.
        ("left_child=1 -1 -2", "left_child=1 -1 -9", "'left_child' of node 2 is out of range"),
        # A child pointing back at its parent: the prediction walk never ends.
        ("left_child=1 -1 -2", "left_child=0 -1 -2", "'left_child' of node 0 is out of range"),
        ("split_feature=", "split_feature=7 ", "'split_feature' holds 4 values, expected 3"),
        ("\nnum_cat=0", "", "tree 0: missing 'num_cat'"),
        ("\n", "\r\n", "carriage returns"),
    ],
)
def test_damaged_trees_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = tmp_path / "model.txt"
    _train("lightgbm", path)
    text = path.read_text()
    assert "left_child=1 -1 -2" in text  # the tree shape the edits expect
    path.write_bytes(
        (text.replace(old, new) if old == "\n" else text.replace(old, new, 1)).encode()
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # In a child: on a damaged file LightGBM may crash, or loop for ever on a cyclic tree.
    child = subprocess.run([sys.executable, "-c", _LOAD, str(path)], capture_output=True,
                           text=True, env=env, cwd=REPO, timeout=60, check=False)  # fmt: skip
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.startswith(f"{path}: not a LightGBM text model")
    assert message in child.stdout
