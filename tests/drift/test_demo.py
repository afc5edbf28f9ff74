"""The acceptance properties on the demo logs, at test size (benchmarks/drift_false_alarms.py
runs them at full size): the same model on disjoint samples is not flagged, and a model
retrained with `real_graph_weight` shuffled is flagged with that feature named first.

Both models are retrained here with the demo recipe cut to two epochs (seconds on one core);
the reference is the clean retrain, the same recipe and seed, so only the corruption differs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rankaudit.data import schema
from rankaudit.data.readers import read_timelines
from rankaudit.drift import (
    DEFAULT_RULES,
    RequestSums,
    attribute_requests,
    build_profile,
    check_drift,
    profile_model,
)
from rankaudit.drift.profile import DRIFT_SETTINGS
from rankaudit.importance import sample_requests
from rankaudit.synth.features import DEMO_SPEC, LOG_SCALED
from rankaudit.synth.train import train_deep
from rankaudit.synth.truth import HEAD_WEIGHTS
from rankaudit.workspace import Workspace, load_workspace

# One worker runs the module: its fixture trains two models (~18 s), once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("drift-demo")]

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
CORRUPTED = "real_graph_weight"
EPOCHS = 2


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The demo logs with two retrained deep models: `clean`, and `shuffled` (trained with
    real_graph_weight permuted across rows)."""
    root = tmp_path_factory.mktemp("drift-demo")
    demo = load_workspace(DEMO)
    columns = [*schema.REQUIRED_COLUMNS, *DEMO_SPEC.names, *map(schema.label_column, HEAD_WEIGHTS)]
    frame = read_timelines(demo.logs, demo.spec, columns=list(dict.fromkeys(columns)))
    assert demo.holdout_from is not None
    train = frame.loc[frame[schema.SERVED_AT] < demo.holdout_from].reset_index(drop=True)
    shuffled = train.assign(
        **{CORRUPTED: np.random.default_rng(0).permutation(train[CORRUPTED].to_numpy())}
    )
    for name, rows in (("clean", train), ("shuffled", shuffled)):
        train_deep(rows, DEMO_SPEC, HEAD_WEIGHTS, LOG_SCALED, root / name, seed=7,
                   max_epochs=EPOCHS)  # fmt: skip
    logs, spec = (DEMO / "logs").as_posix(), (DEMO / "features.yaml").as_posix()
    heads = "".join(f"{h} = {w}\n" for h, w in HEAD_WEIGHTS.items())
    (root / "rankaudit.toml").write_text(
        f'name = "drift-demo"\nlogs = "{logs}"\nspec = "{spec}"\n\n[heads]\n{heads}\n'
        '[models.clean]\nkind = "torch"\npath = "clean"\n\n'
        '[models.shuffled]\nkind = "torch"\npath = "shuffled"\n'
    )
    return load_workspace(root)


@pytest.fixture(scope="module")
def clean_sums(workspace: Workspace) -> RequestSums:
    rows = sample_requests(workspace, 20_000, seed=11)
    return attribute_requests(workspace, "clean", rows)


def _profile(sums: RequestSums, seed: int) -> object:
    return build_profile(sums, method="ig", reference="request", settings=DRIFT_SETTINGS, seed=seed)


def test_disjoint_samples_of_one_model_are_not_flagged(clean_sums: RequestSums) -> None:
    requests = np.array(clean_sums.requests, dtype=object)
    largest = []
    for trial in range(5):
        order = np.random.default_rng(trial).permutation(len(requests))
        half = len(requests) // 2
        first = clean_sums.select(list(requests[order[:half]]))
        second = clean_sums.select(list(requests[order[half:]]))
        result = check_drift(_profile(first, trial), _profile(second, 100 + trial))  # type: ignore[arg-type]
        assert result.passed, [f.message for f in result.findings]
        largest.append(float(np.abs(result.moves["change"]).max()))
    # About 10,000 rows a side: the largest share move stays under the 2-point tolerance.
    assert max(largest) < DEFAULT_RULES.share_tolerance


def test_a_corrupted_feature_is_flagged_and_named_first(
    workspace: Workspace, clean_sums: RequestSums
) -> None:
    reference = _profile(clean_sums, 0)
    current = profile_model(workspace, "shuffled", sample=10_000, seed=12)
    result = check_drift(reference, current)  # type: ignore[arg-type]
    assert not result.passed
    first = result.findings[0]
    assert (first.rule, first.feature) == ("share_change", CORRUPTED)
    assert first.after < first.before / 2  # lost more than half its share
    assert first.high < -DEFAULT_RULES.share_tolerance
    assert result.moves["feature"].iloc[0] == CORRUPTED
