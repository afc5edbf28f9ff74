"""The audit's fast paths give the values of the plain ones, bit for bit: the permutation tests
of a grouping drawn once for all pairs equal one test at a time; tree and logged rankers scored
in large unpadded blocks equal the padded SCORE_BLOCK_ROWS blocks; the deep ranker scores alike
on one torch thread (as the audit scores) and on two."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rankaudit.compare import scoring
from rankaudit.compare.scoring import log_columns, read_log, score_with_heads, split_scope
from rankaudit.exposure.stats import permutation_test, permutation_tests
from rankaudit.models.threads import torch_threads
from rankaudit.workspace import Workspace, load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_shared_draws_equal_one_permutation_test_at_a_time() -> None:
    rng = np.random.default_rng(3)
    n_viewers, n_groups = 400, 4
    values = rng.uniform(0.0, 1.0, size=(n_viewers, 4 * n_groups))
    values[:, 1 * n_groups + 1] *= 1.3  # group 1 reaches more viewers under b: amplified
    values[:, 0 * n_groups + 3] = 0.0  # group 3 never reached under a: NaN p-values
    pairs = [(g, h) for g in range(n_groups) for h in range(g + 1, n_groups)]
    shared = permutation_tests(values, n_groups, pairs, n_permutations=600, seed=5)
    alone = [permutation_test(values, n_groups, g, h, n_permutations=600, seed=5) for g, h in pairs]
    assert all(_same(a, b) for a, b in zip(shared, alone, strict=True))
    assert sum(math.isnan(p) for p in shared) == 3
    assert shared[0] < 0.01  # group 0 against the amplified group 1
    assert min(shared[i] for i in range(len(pairs)) if not math.isnan(shared[i])) >= 1.0 / 601


@pytest.fixture(scope="module")
def demo() -> Workspace:
    return load_workspace(DEMO)


@pytest.fixture(scope="module")
def held_out(demo: Workspace):  # type: ignore[no-untyped-def]
    rankers = [demo.ranker(name) for name in ("baseline", "deep", "chronological", "served")]
    frame = read_log(demo, log_columns(demo, rankers))
    rows, _, _ = split_scope(frame, demo.holdout_from, "holdout", keep_earlier=False)
    return rows.iloc[:2500].reset_index(drop=True)


@pytest.mark.parametrize("name", ["baseline", "chronological", "served"])
def test_row_wise_rankers_score_alike_in_large_and_padded_blocks(
    demo: Workspace, held_out, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    ranker = demo.ranker(name)
    assert scoring._row_wise(ranker)
    monkeypatch.setattr(scoring, "ROW_WISE_BLOCK_ROWS", 1000)  # three unpadded blocks
    large, large_heads = score_with_heads(ranker, held_out)
    monkeypatch.setattr(scoring, "_row_wise", lambda ranker: False)
    padded, padded_heads = score_with_heads(ranker, held_out)
    assert len(large) == len(held_out)
    assert np.array_equal(large, padded)
    if large_heads is None:
        assert padded_heads is None
    else:
        assert padded_heads is not None
        assert np.array_equal(large_heads.to_numpy(), padded_heads.to_numpy())


def test_the_deep_ranker_scores_alike_on_one_and_two_torch_threads(
    demo: Workspace, held_out
) -> None:  # type: ignore[no-untyped-def]
    ranker = demo.ranker("deep")
    assert not scoring._row_wise(ranker)  # batch-dependent float32 kernels: padded blocks
    with torch_threads(1):
        one, one_heads = score_with_heads(ranker, held_out)
    with torch_threads(2):
        two, two_heads = score_with_heads(ranker, held_out)
    assert np.array_equal(one, two)
    assert one_heads is not None
    assert two_heads is not None
    assert np.array_equal(one_heads.to_numpy(), two_heads.to_numpy())
