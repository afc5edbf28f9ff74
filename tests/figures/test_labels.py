"""Scatter labels placed without overlap (`rankaudit.figures._labels`) and the SHAP vs IG
agreement plot that uses them."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from rankaudit.figures import method_agreement
from rankaudit.figures._labels import CHAR_WIDTH, GAP, LINE_HEIGHT, label_box, place_labels
from rankaudit.figures.importance import AGREEMENT_LABELS


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_label_box_geometry() -> None:
    # "abcd" above (0.5, 0.5): centred, GAP above the point, 4 characters wide, one line high.
    box = label_box("abcd", 0.5, 0.5, "top center")
    np.testing.assert_allclose(
        box, [0.5 - 2 * CHAR_WIDTH, 0.5 + GAP, 0.5 + 2 * CHAR_WIDTH, 0.5 + GAP + LINE_HEIGHT]
    )
    right = label_box("abcd", 0.5, 0.5, "middle right")
    np.testing.assert_allclose(
        right,
        [0.5 + GAP, 0.5 - LINE_HEIGHT / 2, 0.5 + GAP + 4 * CHAR_WIDTH, 0.5 + LINE_HEIGHT / 2],
    )


def test_close_labels_take_different_positions() -> None:
    # Three points as close as the demo's author_id, language_match and author_reputation.
    labels = [
        ("language_match", 0.31, 0.38),
        ("author_id", 0.29, 0.37),
        ("author_reputation", 0.30, 0.35),
    ]
    positions = place_labels(labels, points=[(x, y) for _, x, y in labels])
    assert positions["language_match"] == "top center"  # the first takes the first choice
    assert len(positions) == 3
    assert len(set(positions.values())) == 3
    boxes = [label_box(t, x, y, positions[t]) for t, x, y in labels]
    assert not any(_overlap(a, b) for a, b in itertools.combinations(boxes, 2))


def test_a_label_that_fits_nowhere_is_left_out() -> None:
    crowded = [("x" * 200, 0.5, 0.5)]  # wider than the plot
    assert place_labels(crowded) == {}


def _long(features: dict[str, tuple[float, float]], rows: int = 4) -> pd.DataFrame:
    """A long attribution frame with constant |SHAP| and |IG| per feature."""
    records = []
    for r in range(rows):
        for feature, (shap, ig) in features.items():
            sign = 1 if r % 2 else -1
            for method, value in (("shap", shap), ("ig", ig)):
                records.append(
                    {
                        "request_id": "r1",
                        "tweet_id": f"t{r}",
                        "feature": feature,
                        "method": method,
                        "attribution": sign * value,
                        "model": "deep",
                    }
                )
    return pd.DataFrame.from_records(records)


def test_agreement_labels_do_not_overlap() -> None:
    features = {
        "topic_similarity": (0.30, 0.32),
        "language_match": (0.112, 0.137),
        "author_id": (0.098, 0.132),
        "author_reputation": (0.106, 0.123),
        "in_network": (0.19, 0.23),
        **{f"f{i}": (0.01 + 0.001 * i, 0.012) for i in range(8)},
    }
    figure = method_agreement(_long(features))
    points, diagonal = figure.data
    extent = 0.32 * 1.08  # the largest mean |attribution| and 8% of room
    assert list(figure.layout.xaxis.range) == pytest.approx([0, extent])
    assert list(figure.layout.yaxis.range) == pytest.approx([0, extent])
    assert list(diagonal.x) == pytest.approx([0, extent])
    assert list(diagonal.y) == pytest.approx([0, extent])
    named = {
        f: (t, p)
        for f, t, p in zip(points.customdata, points.text, points.textposition, strict=True)
        if t
    }
    assert 0 < len(named) <= AGREEMENT_LABELS
    # The four close features are all named, each at its own position.
    for feature in ("language_match", "author_id", "author_reputation", "topic_similarity"):
        assert named[feature][0] == feature
    boxes = [
        label_box(f, features[f][0] / extent, features[f][1] / extent, p)
        for f, (_, p) in named.items()
    ]
    assert not any(_overlap(a, b) for a, b in itertools.combinations(boxes, 2))
