"""The simulated world: realistic rates, a known truth that explains the labels, the planted bug."""

import numpy as np
import pandas as pd
import pytest

from rankaudit.synth.world import WorldConfig, build_world, iter_timelines, planted_bug_rows
from tests.conftest import small_log


@pytest.fixture(scope="module")
def world_log() -> pd.DataFrame:
    return small_log(users=600, seed=11)


def test_shape_and_keys(world_log: pd.DataFrame) -> None:
    rows_per_user = len(world_log) / world_log["user_id"].nunique()
    assert 35 < rows_per_user < 65
    assert not world_log.duplicated(["request_id", "tweet_id"]).any()
    sizes = world_log.groupby("request_id").size()
    assert sizes.min() >= 2
    positions = world_log.groupby("request_id")["position"].agg(["min", "max", "size"])
    assert (positions["min"] == 1).all()
    assert (positions["max"] == positions["size"]).all()
    assert 0.4 < world_log["in_network"].mean() < 0.6


def test_engagement_is_rare_as_in_production(world_log: pd.DataFrame) -> None:
    rates = world_log.filter(like="label_").mean()
    assert 0.02 < rates["label_favorite"] < 0.08
    assert rates["label_reply"] < 0.01
    assert rates["label_negative_feedback"] < 0.01
    assert rates["label_retweet"] < rates["label_favorite"]


def test_counts_are_heavy_tailed(world_log: pd.DataFrame) -> None:
    followers = world_log["author_follower_count"]
    assert followers.max() > 10 * followers.median()
    assert world_log["tweet_age_minutes"].max() > 20 * world_log["tweet_age_minutes"].median()


def test_ground_truth_explains_the_labels(world_log: pd.DataFrame) -> None:
    world = build_world(WorldConfig(users=600, seed=11))
    truth = world.ground_truth()
    clean = world_log.loc[~planted_bug_rows(world_log)]
    predicted = truth.probabilities(clean, clean["position"].to_numpy(dtype=float))
    for head in truth.heads:
        observed = clean[f"label_{head}"].to_numpy()
        expected = predicted[head].to_numpy()
        # Calibrated: the expected count of engagements matches the observed count.
        assert observed.sum() == pytest.approx(expected.sum(), rel=0.15, abs=8)
        if observed.sum() >= 30:
            from sklearn.metrics import roc_auc_score

            assert roc_auc_score(observed, expected) > 0.6


def test_planted_bug_scales_one_slice_only(world_log: pd.DataFrame) -> None:
    bug = planted_bug_rows(world_log)
    assert 0.03 < bug.mean() < 0.3
    weights = world_log["real_graph_weight"]
    assert weights[~bug].max() <= 1.0
    assert weights[bug].max() > 5.0
    assert weights[bug].median() == pytest.approx(
        100 * weights[~bug & (world_log["served_at"] > "2026-11-12")].median(), rel=0.5
    )


def test_generation_is_deterministic_and_seeded() -> None:
    first = pd.concat(iter_timelines(build_world(WorldConfig(users=40, seed=5))))
    again = pd.concat(iter_timelines(build_world(WorldConfig(users=40, seed=5))))
    other = pd.concat(iter_timelines(build_world(WorldConfig(users=40, seed=6))))
    pd.testing.assert_frame_equal(first, again)
    assert not np.array_equal(
        first["topic_similarity"].to_numpy()[:50], other["topic_similarity"].to_numpy()[:50]
    )
