"""Where the text labels of a scatter go so that they do not overlap each other or the points.

Plotly places a point's text at one of nine fixed positions and never moves it out of the way
of another; `place_labels` picks, per label, the first position whose estimated box is free.
Coordinates are fractions of the plot area (0..1 on both axes)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CHAR_WIDTH", "GAP", "LINE_HEIGHT", "label_box", "place_labels"]

#: Estimated size of a 10 px label on a ~480 x 260 px plot area, as fractions of it.
CHAR_WIDTH = 0.0125
LINE_HEIGHT = 0.06
#: Distance of a label from its marker, and the half-size of a marker.
GAP = 0.02
_MARKER = 0.012
#: Plotly's text positions, in the order they are tried.
_POSITIONS = (
    "top center",
    "middle right",
    "middle left",
    "bottom center",
    "top right",
    "top left",
    "bottom right",
    "bottom left",
)
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def label_box(text: str, x: float, y: float, position: str) -> Box:
    """The estimated box of `text` drawn at `position` (a plotly textposition) of the point
    (x, y), in plot fractions."""
    width, height = CHAR_WIDTH * len(text), LINE_HEIGHT
    vertical, horizontal = position.split()
    if horizontal == "center":
        x0 = x - width / 2
    elif horizontal == "right":
        x0 = x + (GAP if vertical == "middle" else GAP / 2)
    else:
        x0 = x - (GAP if vertical == "middle" else GAP / 2) - width
    if vertical == "middle":
        y0 = y - height / 2
    elif vertical == "top":
        y0 = y + (GAP if horizontal == "center" else GAP / 2)
    else:
        y0 = y - (GAP if horizontal == "center" else GAP / 2) - height
    return (x0, y0, x0 + width, y0 + height)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(
    labels: Sequence[tuple[str, float, float]],
    *,
    points: Sequence[tuple[float, float]] = (),
    bounds: Box = (-0.02, -0.02, 1.02, 1.04),
) -> dict[str, str]:
    """Label text -> plotly textposition for `labels` ((text, x, y), most important first):
    the first position whose box stays inside `bounds` and overlaps neither an earlier label
    nor a marker of `points` other than its own. A label that fits nowhere is left out of the
    result (its point keeps its hover text)."""
    markers = [(x - _MARKER, y - _MARKER, x + _MARKER, y + _MARKER) for x, y in points]
    placed: list[Box] = []
    out: dict[str, str] = {}
    for text, x, y in labels:
        own = (x - _MARKER, y - _MARKER, x + _MARKER, y + _MARKER)
        for position in _POSITIONS:
            box = label_box(text, x, y, position)
            inside = (
                box[0] >= bounds[0]
                and box[1] >= bounds[1]
                and box[2] <= bounds[2]
                and box[3] <= bounds[3]
            )
            if not inside or any(_overlap(box, other) for other in placed):
                continue
            if any(m != own and _overlap(box, m) for m in markers):
                continue
            placed.append(box)
            out[text] = position
            break
    return out
