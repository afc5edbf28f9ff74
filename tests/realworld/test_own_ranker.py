"""Bring your own ranker and log, end to end, on a world the demo never shaped.

A generated LETOR/svmlight dataset (graded 0-4, 160 features, 110 queries of 10-30 documents)
goes through `rankaudit init --from-svmlight` with three rankers trained as teams train theirs:
a LightGBM lambdarank booster trained on a numpy array (unnamed features, raw margin), an
XGBoost rank:ndcg ranker (JSON) and a torch MLP whose forward(x) takes one tensor (safetensors).
Every command that reads the log then runs on it, and the numbers are checked against the
libraries themselves: tree SHAP in raw margin adds up to score - reference, NDCG on graded
relevance equals sklearn's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score
from typer.testing import CliRunner

from rankaudit.cli import app
from tests.realworld.ltr import (
    make_data,
    train_lightgbm,
    train_mlp,
    train_xgboost,
    write_svmlight,
)

pytestmark = pytest.mark.slow

runner = CliRunner()


def _run(workspace: Path, *argv: str) -> str:
    command = [*argv[:2], "--workspace", str(workspace), *argv[2:]] if argv[0] == "drift" else [
        argv[0], "--workspace", str(workspace), *argv[1:]
    ]  # fmt: skip
    result = runner.invoke(app, command)
    assert result.exit_code == 0, (command, result.stdout, result.stderr, result.exception)
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ltr")
    data = make_data()
    write_svmlight(data, root / "train.svm")
    train_lightgbm(data, root / "lgbm.txt")
    train_xgboost(data, root / "xgb.json")
    train_mlp(data, root / "mlp")
    result = runner.invoke(
        app,
        [
            # init checks the models it writes down; the mlp's code is trusted for that check.
            "--trust-model-code", "init", "--from-svmlight", str(root / "train.svm"), "--out", str(root / "ws"),
            "--model", f"lgbm={root / 'lgbm.txt'}", "--model", f"xgb={root / 'xgb.json'}",
            "--model", f"mlp={root / 'mlp'}",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr)
    # The mlp folder ships its own code (team_mlp.py): running it is the user's explicit call.
    config = root / "ws" / "rankaudit.toml"
    text = config.read_text()
    assert "[models.mlp]\n" in text
    config.write_text(text.replace("[models.mlp]\n", "[models.mlp]\ntrust_code = true\n", 1))
    return root


@pytest.fixture(scope="module")
def workspace(built: Path) -> Path:
    return built / "ws"


@pytest.fixture(scope="module")
def log(workspace: Path) -> pd.DataFrame:
    return pd.read_parquet(workspace / "logs" / "train.parquet")


def test_init_imported_every_document_with_its_grade(log: pd.DataFrame) -> None:
    data = make_data()
    assert len(log) == len(data.qid)
    assert log["request_id"].nunique() == 110
    np.testing.assert_array_equal(log["relevance"].to_numpy(), data.grade)
    features = log[[f"f{j + 1}" for j in range(data.x.shape[1])]].to_numpy()
    np.testing.assert_allclose(features, data.x, rtol=0, atol=1e-12)


def test_validate_accepts_it_and_says_what_it_decided(workspace: Path) -> None:
    out = _run(workspace, "validate")
    assert "ok: 2147 rows, 110 requests" in out
    assert "graded relevance: column 'relevance', exponential gain" in out
    assert "lightgbm booster (lambdarank), 160 features, raw margin scores" in out
    assert "xgboost booster (rank:ndcg), 160 features, raw margin scores" in out
    assert "matched the booster's 160 unnamed features" in out
    assert "took the 160 numeric feature(s) of the feature spec" in out


@pytest.mark.parametrize("vs", [("lgbm", "mlp"), ("xgb", "lgbm")])
def test_ndcg_on_graded_relevance_equals_sklearn(
    workspace: Path, log: pd.DataFrame, vs: tuple[str, str]
) -> None:
    population = json.loads(
        _run(workspace, "compare", "--vs", *vs, "--format", "json", "--bootstrap", "50")
    )
    assert population["relevance"]["kind"] == "graded"
    checked = 0
    for request in log["request_id"].unique()[:12]:
        document = json.loads(
            _run(workspace, "compare", "--vs", *vs, "--request", str(request), "--format", "json")
        )
        tweets = pd.DataFrame(document["tweets"])
        gains = np.exp2(log.set_index("tweet_id").loc[tweets["tweet_id"], "relevance"]) - 1
        for side, column in (("a", "score_a"), ("b", "score_b")):
            scores = tweets[column].to_numpy()
            if len(np.unique(scores)) < len(scores):
                continue  # sklearn averages ties; rankaudit breaks them by tweet id
            for k in (5, 10):
                expected = ndcg_score([gains.to_numpy()], [scores], k=k)
                assert document["metrics"][f"ndcg@{k}_{side}"] == pytest.approx(expected, abs=1e-9)
                checked += 1
    assert checked >= 20


def test_surprises_and_explain(workspace: Path, log: pd.DataFrame) -> None:
    out = _run(workspace, "surprises", "--vs", "lgbm", "mlp", "--top", "3")
    assert "graded relevance" in out
    request = str(log["request_id"].iloc[0])
    tweets = log.loc[log["request_id"] == request, "tweet_id"].tolist()
    out = _run(workspace, "explain", "--vs", "lgbm", "mlp", "--request", request, "--top", "5")
    assert "all other features (155)" in out
    out = _run(
        workspace, "explain", "--vs", "xgb", "mlp", "--request", request,
        "--tweet", tweets[0], "--vs-tweet", tweets[1],
    )  # fmt: skip
    assert tweets[1] in out


def _store(path: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted(path.glob("part-*.parquet"))])


@pytest.mark.parametrize("model", ["lgbm", "xgb"])
def test_tree_shap_in_raw_margin_adds_up(
    model: str, built: Path, workspace: Path, log: pd.DataFrame, tmp_path: Path
) -> None:
    request = str(log["request_id"].iloc[3])
    _run(workspace, "attribute", "--model", model, "--method", "shap", "--request", request,
         "--out", str(tmp_path / "store"))  # fmt: skip
    rows = _store(tmp_path / "store")
    per_tweet = rows.groupby("tweet_id").agg(
        attribution=("attribution", "sum"), score=("score", "first"),
        reference=("reference_score", "first"),
    )  # fmt: skip
    gap = per_tweet["score"] - per_tweet["reference"]
    np.testing.assert_allclose(per_tweet["attribution"], gap, rtol=0, atol=1e-6)
    # The explained score is the booster's raw margin, not a probability.
    candidates = log.loc[log["request_id"] == request].set_index("tweet_id")
    x = candidates.loc[per_tweet.index, [f"f{j + 1}" for j in range(160)]].to_numpy()
    if model == "lgbm":
        import lightgbm as lgb

        raw = lgb.Booster(model_file=str(built / "lgbm.txt")).predict(x, raw_score=True)
    else:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(built / "xgb.json"))
        raw = booster.inplace_predict(x, predict_type="margin").astype(np.float64)
    np.testing.assert_allclose(per_tweet["score"], raw, rtol=0, atol=1e-9)
    assert per_tweet["reference"].iloc[0] == pytest.approx(float(np.mean(raw)), abs=1e-9)


def test_torch_mlp_attributes_with_ig_and_shap(
    workspace: Path, log: pd.DataFrame, tmp_path: Path
) -> None:
    request = str(log["request_id"].iloc[5])
    _run(workspace, "attribute", "--model", "mlp", "--method", "all", "--request", request,
         "--out", str(tmp_path / "store"))  # fmt: skip
    rows = _store(tmp_path / "store")
    assert set(rows["method"]) == {"ig", "shap"}
    shap_rows = rows.loc[rows["method"] == "shap"].groupby("tweet_id")
    np.testing.assert_allclose(
        shap_rows["attribution"].sum(),
        shap_rows["score"].first() - shap_rows["reference_score"].first(),
        rtol=0,
        atol=1e-6,
    )


def test_report_and_drift(workspace: Path, log: pd.DataFrame, tmp_path: Path) -> None:
    request = str(log["request_id"].iloc[7])
    _run(workspace, "report", "--vs", "lgbm", "mlp", "--request", request, "--fast",
         "--importance-rows", "80", "--out", str(tmp_path / "report.html"))  # fmt: skip
    html = (tmp_path / "report.html").read_text()
    assert "all other features" in html
    _run(workspace, "drift", "profile", "--model", "lgbm", "--method", "shap", "--sample", "200",
         "--out", str(tmp_path / "profile.json"))  # fmt: skip
    out = _run(workspace, "drift", "check", "--reference", str(tmp_path / "profile.json"),
               "--model", "lgbm")  # fmt: skip
    assert out.startswith("no drift")
