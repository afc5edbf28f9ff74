"""The ground-truth engagement model of the demo world, saved with every generated workspace.

Each head's logit is an intercept plus additive terms ``weight * transform(feature)`` plus
pairwise interaction terms ``weight * transform(a) * transform(b)`` plus a per-author appeal
(a latent only the author id reveals) scaled per head. Probabilities are ``sigmoid(logit)``
times a position-bias factor ``exp(-position_decay * (position - 1))``.

The same table drives the simulator and is written to ``ground_truth.json`` so that tests of
later features can compare explanations against known effects (in the features' true units:
the planted logging bug only changes what was logged, not what viewers experienced).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["HEAD_WEIGHTS", "TRUTH", "GroundTruth", "Term", "transform"]

Transform = Literal["identity", "log1p", "hours_log1p", "centered_length", "evening", "one_hot_ios"]

#: The demo's heads and their weights in the final score (published April 2023 weights).
HEAD_WEIGHTS: Mapping[str, float] = {
    "favorite": 0.5,
    "retweet": 1.0,
    "reply": 13.5,
    "good_click": 11.0,
    "negative_feedback": -74.0,
}


def transform(name: str, values: pd.Series) -> NDArray[np.float64]:
    """Apply a named ground-truth transform to a feature column (float64 result)."""
    if name == "one_hot_ios":
        return np.asarray(values.astype(str) == "ios", dtype=np.float64)
    x: NDArray[np.float64] = values.to_numpy(dtype=np.float64)
    if name == "identity":
        return x
    if name == "log1p":
        return np.asarray(np.log1p(np.abs(x)) * np.sign(x), dtype=np.float64)
    if name == "hours_log1p":
        return np.asarray(np.log1p(np.maximum(x, 0.0) / 60.0), dtype=np.float64)
    if name == "centered_length":
        return (x - 100.0) / 100.0
    if name == "evening":
        return np.cos(2 * np.pi * (x - 20.0) / 24.0)
    raise ValueError(f"unknown ground-truth transform {name!r}")


@dataclass(frozen=True)
class Term:
    """``weight * prod(transform_i(feature_i))`` on a head's logit."""

    features: tuple[str, ...]
    transforms: tuple[str, ...]
    weight: float


def _t(weight: float, *pairs: tuple[str, str]) -> Term:
    return Term(tuple(f for f, _ in pairs), tuple(t for _, t in pairs), weight)


# fmt: off
#: head -> (intercept, author-appeal scale, terms)
TRUTH: Mapping[str, tuple[float, float, tuple[Term, ...]]] = {
    "favorite": (-4.4, 1.0, (
        _t(1.6, ("topic_similarity", "identity")),
        _t(2.0, ("real_graph_weight", "identity")),
        _t(0.30, ("social_proof_count", "log1p")),
        _t(-0.35, ("tweet_age_minutes", "hours_log1p")),
        _t(0.35, ("has_image", "identity")),
        _t(0.20, ("has_video", "identity")),
        _t(0.12, ("tweet_fav_count", "log1p")),
        _t(0.60, ("language_match", "identity")),
        _t(0.15, ("viewer_like_count_50d", "log1p")),
        _t(0.15, ("client", "one_hot_ios")),
        _t(1.0, ("topic_similarity", "identity"), ("in_network", "identity")),
    )),
    "retweet": (-5.3, 0.8, (
        _t(1.2, ("topic_similarity", "identity")),
        _t(1.5, ("real_graph_weight", "identity")),
        _t(0.25, ("social_proof_count", "log1p")),
        _t(-0.30, ("tweet_age_minutes", "hours_log1p")),
        _t(0.30, ("has_link", "identity")),
        _t(0.40, ("has_video", "identity")),
        _t(0.20, ("tweet_retweet_count", "log1p")),
        _t(0.30, ("author_verified", "identity")),
    )),
    "reply": (-5.8, 1.2, (
        _t(1.0, ("topic_similarity", "identity")),
        _t(2.5, ("real_graph_weight", "identity")),
        _t(0.90, ("mutual_follow", "identity")),
        _t(0.50, ("is_reply", "identity")),
        _t(1.5, ("real_graph_weight", "identity"), ("is_reply", "identity")),
        _t(0.30, ("text_length", "centered_length")),
        _t(-0.25, ("tweet_age_minutes", "hours_log1p")),
        _t(0.15, ("tweet_reply_count", "log1p")),
    )),
    "good_click": (-4.7, 0.9, (
        _t(1.3, ("topic_similarity", "identity")),
        _t(1.2, ("real_graph_weight", "identity")),
        _t(0.40, ("text_length", "centered_length")),
        _t(-0.30, ("has_link", "identity")),
        _t(0.20, ("tweet_reply_count", "log1p")),
        _t(0.20, ("hour_of_day", "evening")),
        _t(0.20, ("social_proof_count", "log1p")),
        _t(-0.20, ("tweet_age_minutes", "hours_log1p")),
    )),
    "negative_feedback": (-3.0, -0.7, (
        _t(-1.4, ("topic_similarity", "identity")),
        _t(-1.5, ("in_network", "identity")),
        _t(-0.03, ("author_reputation", "identity")),
        _t(-0.90, ("language_match", "identity")),
        _t(0.30, ("has_link", "identity")),
        _t(0.60, ("is_session_start", "identity")),
    )),
}
# fmt: on


@dataclass(frozen=True)
class GroundTruth:
    """The known engagement model: per-head terms, author appeal and position bias."""

    heads: Mapping[str, float]
    truth: Mapping[str, tuple[float, float, tuple[Term, ...]]]
    author_appeal: Mapping[str, float]
    position_decay: float
    planted_bug: Mapping[str, Any]

    def logits(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the true logit per head for rows holding the TRUE feature values."""
        appeal = frame["author_id"].astype(str).map(self.author_appeal).fillna(0.0).to_numpy()
        out = {}
        for head, (intercept, appeal_scale, terms) in self.truth.items():
            logit = np.full(len(frame), intercept) + appeal_scale * appeal
            for term in terms:
                value = np.ones(len(frame))
                for feature, name in zip(term.features, term.transforms, strict=True):
                    value = value * transform(name, frame[feature])
                logit += term.weight * value
            out[head] = logit
        return pd.DataFrame(out, index=frame.index)

    def probabilities(
        self, frame: pd.DataFrame, position: NDArray[np.float64] | None = None
    ) -> pd.DataFrame:
        """Return engagement probabilities per head; with `position`, position bias applied."""
        logits = self.logits(frame)
        probs = pd.DataFrame(
            1.0 / (1.0 + np.exp(-logits.to_numpy())), index=logits.index, columns=logits.columns
        )
        if position is not None:
            probs = probs.mul(np.exp(-self.position_decay * (np.asarray(position) - 1.0)), axis=0)
        return probs

    def to_json(self) -> str:
        heads = {}
        for head, (intercept, appeal_scale, terms) in self.truth.items():
            heads[head] = {
                "weight": self.heads[head],
                "intercept": intercept,
                "author_appeal_scale": appeal_scale,
                "terms": [
                    {
                        "features": list(t.features),
                        "transforms": list(t.transforms),
                        "weight": t.weight,
                    }
                    for t in terms
                ],
            }
        document = {
            "description": (
                "logit_h = intercept + author_appeal_scale * appeal[author_id] + sum(weight * "
                "prod(transform(feature))); p_h = sigmoid(logit_h) * exp(-position_decay * (position - 1))"
            ),
            "heads": heads,
            "position_decay": self.position_decay,
            "planted_bug": dict(self.planted_bug),
            "author_appeal": {k: round(v, 6) for k, v in sorted(self.author_appeal.items())},
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    @classmethod
    def load(cls, path: Path) -> GroundTruth:
        document = json.loads(path.read_text(encoding="utf-8"))
        truth = {
            head: (
                float(body["intercept"]),
                float(body["author_appeal_scale"]),
                tuple(
                    Term(tuple(t["features"]), tuple(t["transforms"]), float(t["weight"]))
                    for t in body["terms"]
                ),
            )
            for head, body in document["heads"].items()
        }
        return cls(
            heads={h: float(b["weight"]) for h, b in document["heads"].items()},
            truth=truth,
            author_appeal={k: float(v) for k, v in document["author_appeal"].items()},
            position_decay=float(document["position_decay"]),
            planted_bug=document["planted_bug"],
        )
