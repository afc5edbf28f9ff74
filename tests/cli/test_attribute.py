"""`rankaudit attribute`: documented columns, a store folder of whole partitions, runs that
resume after a kill, one clear line on bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.attribution import COLUMNS
from rankaudit.cli import app

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
runner = CliRunner()


def _first_request() -> tuple[str, str, list[str]]:
    frame = pd.read_parquet(
        DEMO / "logs" / "timelines.parquet", columns=["request_id", "user_id", "tweet_id"]
    )
    request = frame["request_id"].iat[0]
    rows = frame.loc[frame["request_id"] == request]
    return request, rows["user_id"].iat[0], rows["tweet_id"].tolist()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, ["attribute", "--workspace", str(DEMO), *args], env={"COLUMNS": "200"}
    )
    return result.exit_code, result.stdout, result.stderr


def test_attribute_a_request_writes_the_documented_columns(tmp_path: Path) -> None:
    request, user, tweets = _first_request()
    out = tmp_path / "a"
    code, stdout, err = invoke("--model", "deep", "--method", "all", "--reference", "request",
                               "--request", request, "--out", str(out))  # fmt: skip
    assert code == 0, err
    frame = pd.read_parquet(out)
    assert tuple(frame.columns) == COLUMNS
    assert set(frame["tweet_id"]) == set(tweets)
    assert set(frame["method"]) == {"ig", "shap"}
    assert set(frame["head"]) == {
        "favorite",
        "retweet",
        "reply",
        "good_click",
        "negative_feedback",
        "score",
    }
    assert frame["user_id"].unique().tolist() == [user]
    assert "max relative completeness error" in stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "_done",
        "_rankaudit_store.json",
        "part-00000.parquet",
    ]


def test_wide_and_pair(tmp_path: Path) -> None:
    request, _, tweets = _first_request()
    out = tmp_path / "w"
    code, _, err = invoke("--model", "baseline", "--method", "shap", "--reference", "pair", "--request", request,
                          "--tweet", tweets[0], "--vs-tweet", tweets[1], "--heads", "score", "--wide", "--out", str(out))  # fmt: skip
    assert code == 0, err
    wide = pd.read_parquet(out)
    assert len(wide) == 1
    assert wide["vs_tweet_id"].iat[0] == tweets[1]
    features = [
        c for c in wide.columns if c in ("tweet_age_minutes", "real_graph_weight", "in_network")
    ]
    assert len(features) == 3
    total = wide[[c for c in wide.columns if c not in ("request_id", "user_id", "tweet_id", "vs_tweet_id", "model",
                  "head", "method", "reference", "score", "reference_score", "completeness_error", "converged")]].sum(axis=1)  # fmt: skip
    assert total.iat[0] == pytest.approx(
        wide["score"].iat[0] - wide["reference_score"].iat[0], rel=1e-5
    )


def test_bad_inputs_give_one_line_and_no_file(tmp_path: Path) -> None:
    request, _, _ = _first_request()
    log = pd.read_parquet(
        DEMO / "logs" / "timelines.parquet", columns=["request_id", "user_id", "tweet_id"]
    )
    requests_per_user = log.groupby("user_id")["request_id"].nunique()
    two = requests_per_user[requests_per_user >= 2].index[0]
    mine = log.loc[log["user_id"] == two].drop_duplicates("request_id")
    first_tweet, elsewhere = mine["tweet_id"].iat[0], mine["tweet_id"].iat[1]
    out = tmp_path / "x"
    cases = {
        "unknown model": (["--model", "gbdt", "--request", request], "no model named 'gbdt'"),
        "unknown method": (["--model", "deep", "--method", "lime", "--request", request], "unknown method 'lime'"),
        "unknown reference": (["--model", "deep", "--reference", "median", "--request", request], "unknown reference 'median'"),
        "unknown head": (["--model", "deep", "--heads", "bookmark", "--request", request], "unknown head 'bookmark'"),
        "unknown user": (["--model", "deep", "--user", "u_nobody"], "unknown user 'u_nobody'"),
        "unknown request": (["--model", "deep", "--request", "r_nothing"], "unknown request 'r_nothing'"),
        "no selection": (["--model", "deep"], "choose exactly one of --user U, --request R, --sample N or --all"),
        "ig on trees": (["--model", "baseline", "--method", "ig", "--request", request], "use --method shap"),
        "pair without tweets": (["--model", "deep", "--reference", "pair", "--request", request], "needs --tweet T and --vs-tweet T2"),
        "bad ig cap": (["--model", "deep", "--ig-max-steps", "0", "--request", request], "'ig_max_steps' parameter"),
        "unknown engine": (["--model", "deep", "--request", request, "--engine", "spark"], "unknown engine 'spark'"),
        "no partitions": (["--model", "deep", "--request", request, "--partitions", "0"], "'partitions' option"),
        "address locally": (["--model", "deep", "--request", request, "--address", "127.0.0.1:6379"], "--address applies to --engine ray only"),
        "pair across requests": (
            ["--model", "deep", "--reference", "pair", "--user", two, "--tweet", first_tweet, "--vs-tweet", elsewhere],
            "not served in the same request",
        ),
    }  # fmt: skip
    for case, (args, message) in cases.items():
        code, _, err = invoke(*args, "--out", str(out))
        assert code == 2, (case, err)
        assert message in err, (case, err)
        assert len(err.strip().splitlines()) == 1, (case, err)
        assert "Traceback" not in err
        assert not out.exists(), case
    code, _, err = invoke(
        "--model", "deep", "--request", request, "--out", str(tmp_path / "missing" / "x")
    )
    assert code == 2
    assert "does not exist" in err
    assert list(tmp_path.iterdir()) == []
    code, _, err = invoke(
        "--model", "deep", "--request", request, "--out", str(DEMO / "rankaudit.toml")
    )
    assert (code, err.count("\n")) == (2, 1)
    assert "is a file" in err
    code, _, err = invoke("--model", "deep", "--request", request, "--out", str(DEMO / "logs"))
    assert (code, err.count("\n")) == (2, 1)
    assert "not empty and not a rankaudit store" in err


def test_a_sample_is_explained_in_viewer_partitions(tmp_path: Path) -> None:
    from rankaudit.importance import sample_requests
    from rankaudit.store import partition_of
    from rankaudit.workspace import load_workspace

    out = tmp_path / "s"
    code, stdout, err = invoke("--model", "baseline", "--heads", "score", "--sample", "300",
                               "--partitions", "3", "--out", str(out))  # fmt: skip
    assert code == 0, err
    expected = sample_requests(load_workspace(DEMO), 300, seed=0)
    frame = pd.read_parquet(out)
    assert set(frame["request_id"]) == set(expected["request_id"])
    features = frame["feature"].nunique()
    assert len(frame) == len(expected) * features  # a row per tweet and feature (score only)
    assert features == len(load_workspace(DEMO).ranker("baseline").required_columns)
    for index in range(3):
        part = pd.read_parquet(out / f"part-{index:05d}.parquet")
        assert set(partition_of(part["user_id"], 3)) == {index}
        viewers = part["user_id"].tolist()
        assert viewers == sorted(viewers)  # sorted by viewer: lookups prune row groups
    assert f"{len(expected)} tweets explained in 3 partition(s)" in stdout


def test_the_global_reference_for_every_model(tmp_path: Path) -> None:
    """The job of a global-reference run fingerprints its background with the model's columns
    (a tree model and a torch model alike)."""
    request, _, tweets = _first_request()
    for model in ("baseline", "deep"):
        out = tmp_path / model
        code, _, err = invoke("--model", model, "--reference", "global", "--heads", "score",
                              "--request", request, "--out", str(out))  # fmt: skip
        assert code == 0, err
        frame = pd.read_parquet(out)
        assert set(frame["tweet_id"]) == set(tweets)
        assert set(frame["reference"]) == {"global"}
