"""Position models: how likely a viewer is to see the tweet at position k (1-based).

Every model is a survival function S(k) = P(viewed depth >= k), with S(1) = 1 and S
nonincreasing, so one function gives both metrics of the audit:

- exposure of a tweet at position k is S(k), the probability it is seen (expected views);
- a group reaches a viewer in one request with probability S(m), m the group's best position
  there (the viewer reads positions 1..D, so some tweet of the group is seen iff D >= m).

Models:

- ``log``: S(k) = 1 / log2(1 + k), the DCG discount (Singh & Joachims 2018 use it as exposure).
- ``geometric:P``: S(k) = P^(k-1), a viewer who after each tweet goes on with probability P
  (rank-biased precision's patience).
- ``empirical``: S(k) estimated from the logs, Kaplan-Meier style. A request's viewed depth is
  taken to be at least its deepest *served* position with any positive engagement; that depth is
  an observed stop, except when it is the request's last served slot, where the viewer might have
  read on had there been more (right-censored there). Requests without engagement carry no
  information about depth and are left out. S(k) = prod_{j<k} (1 - stops_j / at_risk_j), with
  at_risk_j the requests whose depth (stop or censoring) is >= j; beyond the deepest observed
  position S stays at its last value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rankaudit.errors import ParameterError

__all__ = ["Attention", "estimate_survival", "parse_attention"]

AttentionKind = Literal["log", "geometric", "empirical"]
_GEOMETRIC = re.compile(r"^geometric:(?P<p>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)$")


@dataclass(frozen=True)
class Attention:
    """A position model. `patience` is set for "geometric"; `table` (S(1), S(2), ...) for
    "empirical"."""

    kind: AttentionKind
    patience: float | None = None
    table: tuple[float, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        if self.kind == "geometric":
            return f"geometric:{self.patience:g}"
        return self.kind

    def survival(self, positions: ArrayLike) -> NDArray[np.float64]:
        """S(k) for each 1-based position k: the probability that the tweet there is seen."""
        k = np.asarray(positions, dtype=np.float64)
        if self.kind == "log":
            return np.asarray(1.0 / np.log2(1.0 + k), dtype=np.float64)
        if self.kind == "geometric":
            return np.asarray(np.power(float(self.patience or 0.0), k - 1.0), dtype=np.float64)
        table = np.asarray(self.table, dtype=np.float64)
        index = np.clip(k.astype(np.int64) - 1, 0, len(table) - 1)
        return np.asarray(table[index], dtype=np.float64)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "patience": self.patience,
            "survival": list(self.table[:50]) if self.kind == "empirical" else None,
        }


def parse_attention(text: str) -> Attention:
    """The position model named by `text` ("log", "geometric:P" with 0 < P < 1, or
    "empirical", whose table is filled by `estimate_survival`). Raises ParameterError."""
    if text == "log":
        return Attention("log")
    if text == "empirical":
        return Attention("empirical", table=(1.0,))
    match = _GEOMETRIC.match(text)
    if match is not None:
        p = float(match.group("p"))
        if 0.0 < p < 1.0:
            return Attention("geometric", patience=p)
    raise ParameterError(
        f"The attention model must be 'log', 'geometric:P' with 0 < P < 1 (e.g. geometric:0.9) "
        f"or 'empirical'. Got {text!r} instead."
    )


def estimate_survival(
    request_codes: ArrayLike,
    served_positions: ArrayLike,
    engaged: ArrayLike,
) -> NDArray[np.float64]:
    """The Kaplan-Meier scroll-depth survival S(1..K) (K the longest request) from rows aligned
    by `request_codes` (0..R-1), their logged 1-based `served_positions` and whether each row
    had any positive engagement (`engaged`); see the module docstring. Raises ParameterError
    when no request has an engagement."""
    codes = np.asarray(request_codes, dtype=np.int64)
    positions = np.asarray(served_positions, dtype=np.int64)
    hit = np.asarray(engaged, dtype=bool)
    n_requests = int(codes.max()) + 1 if len(codes) else 0
    length = np.zeros(n_requests, dtype=np.int64)
    np.maximum.at(length, codes, positions)
    depth = np.zeros(n_requests, dtype=np.int64)
    np.maximum.at(depth, codes[hit], positions[hit])
    informative = depth > 0
    if not informative.any():
        raise ParameterError(
            "the empirical attention model needs requests with engagement to estimate how deep "
            "viewers scroll, and the log has none; use --attention log or geometric:P"
        )
    longest = int(length.max())
    depth = depth[informative]
    censored = depth == length[informative]
    stops = np.bincount(depth[~censored], minlength=longest + 1)
    reached = np.bincount(depth, minlength=longest + 1)  # depth (stop or censoring) == j
    at_risk = reached[::-1].cumsum()[::-1]  # depth >= j
    survival = np.ones(longest, dtype=np.float64)
    for k in range(2, longest + 1):
        j = k - 1
        factor = 1.0 - stops[j] / at_risk[j] if at_risk[j] > 0 else 1.0
        survival[k - 1] = survival[k - 2] * factor
    return survival
