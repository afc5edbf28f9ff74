"""Rich tables for the workspace views: one request side by side, held-out evaluation."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping

from rich.table import Table
from rich.text import Text

from rankaudit.compare.evaluation import Evaluation
from rankaudit.compare.request import RequestComparison
from rankaudit.compare.scoring import GRADE
from rankaudit.data import schema
from rankaudit.render._text import log_text
from rankaudit.text import terminal_text

__all__ = ["evaluation_table", "timeline_table"]

#: How each engagement head is shown in the terminal.
_HEAD_MARKS = {
    "favorite": "♥ fav",
    "retweet": "↻ rt",
    "reply": "↩ reply",
    "good_click": "⊙ click",
    "negative_feedback": "✖ neg",
}


def _engaged(row: Mapping[Hashable, object], heads: Iterable[str]) -> Text:
    text = Text()
    for head in heads:
        if row.get(schema.label_column(head)) == 1:
            style = "red" if head.startswith("negative") else "green"
            text.append(terminal_text(_HEAD_MARKS.get(head, head)) + " ", style=style)
    return text


def _grade(value: object) -> Text:
    grade = float(value)  # type: ignore[arg-type]
    return Text(f"{grade:g}", style="green" if grade > 0 else "dim")


def _move(displacement: int) -> Text:
    if displacement > 0:
        return Text(f"▲{displacement}", style="green")
    if displacement < 0:
        return Text(f"▼{-displacement}", style="red")
    return Text("=", style="dim")


def timeline_table(view: RequestComparison) -> Table:
    """Both orderings of one request: each row a tweet, sorted by the second model's position.
    The last column is what the viewer did (the engagement heads), or with graded relevance
    the judged grade (after the heads, when the workspace has both)."""
    first, second = view.models
    graded = view.graded is not None
    heads = bool(view.heads)
    meaning = "grade = judged relevance" if graded else "engaged = what the viewer did"
    if graded and heads:
        meaning += "; engaged = what the viewer did"
    table = Table(
        # Log values go in through log_text, never as markup: a "[b]" in an id or a tweet
        # stays literal, and control characters show as escapes instead of acting.
        title=log_text(
            f"viewer {view.user_id} · request {view.request_id} · served {view.served_at:%Y-%m-%d %H:%M} UTC"
        ),
        caption=log_text(f"▲/▼: places {second} moved the tweet relative to {first}; {meaning}"),
    )
    # Ids, positions and scores never wrap; only the text snippet gives way on a narrow terminal.
    table.add_column(log_text(f"{second} #"), justify="right", no_wrap=True)
    table.add_column(log_text(f"{first} #"), justify="right", no_wrap=True)
    table.add_column("move", justify="right", no_wrap=True)
    table.add_column("tweet", no_wrap=True)
    table.add_column("text", overflow="ellipsis", no_wrap=True, max_width=36)
    table.add_column("author", no_wrap=True)
    table.add_column("net", justify="center", no_wrap=True)
    table.add_column(log_text(f"{first} score"), justify="right", no_wrap=True)
    table.add_column(log_text(f"{second} score"), justify="right", no_wrap=True)
    if heads or not graded:
        table.add_column("engaged")
    if graded:
        table.add_column("grade", justify="right", no_wrap=True)
    has_text = schema.TWEET_TEXT in view.rows
    for row in view.rows.to_dict("records"):
        network = row.get("in_network")
        cells: list[str | Text] = [
            str(row["position_b"]),
            str(row["position_a"]),
            _move(int(row["displacement"])),
            log_text(row[schema.TWEET_ID], style="bold"),
            log_text(row[schema.TWEET_TEXT] if has_text else "", style="dim"),
            log_text(row[schema.AUTHOR_ID]),
            "in" if network == 1 else ("out" if network == 0 else "?"),
            f"{row['score_a']:.4f}",
            f"{row['score_b']:.4f}",
        ]
        if heads or not graded:
            cells.append(_engaged(row, view.heads))
        if graded:
            cells.append(_grade(row[GRADE]))
        table.add_row(*cells)
    return table


def _fmt(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.4f}"


def evaluation_table(evaluation: Evaluation, *, title: str = "evaluation") -> Table:
    """NDCG@k and per-head ROC-AUC / RCE (RCE only for heads a model predicts) per model."""
    table = Table(
        title=log_text(f"{title}: {evaluation.requests} requests, {evaluation.rows} rows")
    )
    table.add_column("model")
    table.add_column(f"NDCG@{evaluation.k}", justify="right")
    heads = next(iter(evaluation.heads.values())).keys()
    for head in heads:
        table.add_column(log_text(f"{head} AUC / RCE"), justify="right")
    for model, ndcg in evaluation.ndcg.items():
        cells = [
            f"{_fmt(evaluation.heads[model][h]['roc_auc'])} / {_fmt(evaluation.heads[model][h]['rce'])}"
            for h in heads
        ]
        table.add_row(log_text(model), _fmt(ndcg), *cells)
    return table
