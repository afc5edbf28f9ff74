"""The explanation panel of the Timeline page: the open tweet's attributions, where its
feature values sit against the training range, and where SHAP and IG disagree in sign; an
"Explain: score / rank" switch shows instead the Shapley values of the tweet's rank."""

from __future__ import annotations

from typing import Any

import pandas as pd
from dash import dcc, html

from dash_app.components import error_message, fmt, graph, guarded, hint
from rankaudit.attribution import FINAL
from rankaudit.attribution.grouping import By
from rankaudit.compare.surprise import FeatureRanges
from rankaudit.figures import (
    attribution_bars,
    attribution_waterfall,
    explained_difference,
    head_breakdown,
    rank_bars,
)
from rankaudit.views import ExplanationView, TimelineQuery, WorkspaceSession
from rankaudit.views.explanation import explain_rank_in_timeline

__all__ = [
    "BY",
    "QUANTITIES",
    "feature_ranges_line",
    "rank_bars",
    "rank_panel",
    "render_explanation",
    "sign_disagreements",
    "sign_note",
    "vs_options",
]

#: Features whose value is set against the training range: the largest contributors.
RANGE_FEATURES = 6
#: An attribution smaller than this share of the largest one has no sign worth comparing.
SIGN_TOLERANCE = 0.05


def sign_disagreements(
    contributions: pd.DataFrame, methods: tuple[str, ...] | list[str], *, top: int = 12
) -> pd.DataFrame:
    """Among the `top` features of `contributions` (feature, value, one column per method,
    largest first), those where SHAP and IG have opposite signs, both beyond `SIGN_TOLERANCE`
    of the largest |attribution|: columns feature, shap, ig. Empty without both methods."""
    if "shap" not in methods or "ig" not in methods:
        return pd.DataFrame(columns=["feature", "shap", "ig"])
    head = contributions.head(top)
    largest = float(head[["shap", "ig"]].abs().to_numpy().max()) if len(head) else 0.0
    floor = SIGN_TOLERANCE * largest
    opposite = (
        (head["shap"] * head["ig"] < 0) & (head["shap"].abs() > floor) & (head["ig"].abs() > floor)
    )
    return head.loc[opposite, ["feature", "shap", "ig"]].reset_index(drop=True)


def sign_note(view: ExplanationView) -> html.Div | None:
    """A short note naming the features whose SHAP and IG attributions disagree in sign, and
    what to make of it; None when they agree."""
    disagree = sign_disagreements(view.contributions(), view.methods)
    if disagree.empty:
        return None
    named = ", ".join(
        f"{row.feature} (SHAP {row.shap:+.3g}, IG {row.ig:+.3g})" for row in disagree.itertuples()
    )
    return html.Div(
        f"SHAP and IG disagree in sign for {named}. The methods share credit differently "
        "(SHAP over feature coalitions, IG along a straight path from the reference), so the "
        "direction of these features is uncertain: rely on features where both agree.",
        className="hint warn",
        id="explain-sign-note",
    )


def feature_ranges_line(view: ExplanationView, ranges: FeatureRanges | None) -> html.Div | None:
    """The largest contributors' values against their training range (continuous features
    only), values outside it marked; None without known ranges."""
    if ranges is None:
        return None
    chips: list[Any] = []
    for row in view.contributions().head(3 * RANGE_FEATURES).itertuples():
        feature = str(row.feature)
        if feature not in ranges.low or len(chips) == RANGE_FEATURES:
            continue
        low, high = ranges.low[feature], ranges.high[feature]
        try:
            value = float(str(row.value))
        except ValueError:  # a categorical value
            continue
        outside = value < low or value > high
        chips.append(
            html.Span(
                f"{feature} {fmt(value, 4)} · training {fmt(low, 4)} .. {fmt(high, 4)}"
                + (" · outside" if outside else ""),
                className="range-chip out" if outside else "range-chip",
                title="outside the range seen in training: the rankers extrapolate here"
                if outside
                else "within the range seen in training",
            )
        )
    if not chips:
        return None
    return html.Div(
        [html.Span("Values vs training range: ", className="muted"), *chips],
        className="explain-ranges",
        id="explain-ranges",
    )


_SOURCES = {"computed": "computed now (interactive settings), then cached"}
#: The "Rows" switch of the explanation: one bar per feature, or per feature group of the spec.
BY: dict[str, By] = {"features": "feature", "groups": "group"}


def vs_options(session: WorkspaceSession, data: Any) -> list[dict[str, str]]:
    """The tweets a pair can be formed with: every other candidate, by position; none for a
    query that cannot be shown (the timeline part shows the error)."""
    try:
        query = TimelineQuery.from_data(data)
        if query.user is None or query.tweet is None:
            return []
        view = session.timeline(query.user, query.request)
        model = query.model if query.model in view.models else view.models[1]
        positions = view.positions(model).sort_values()
    except Exception:  # the timeline part shows the error
        return []
    options = [
        {"label": f"#{p} {t}", "value": str(t)} for t, p in positions.items() if t != query.tweet
    ]
    if query.vs is not None and query.vs not in set(positions.index):
        # The dropdown would drop a value it has no option for (and the URL with it): an
        # unknown tweet stays, and the explanation says what is wrong with it.
        options.append({"label": query.vs, "value": query.vs})
    return options


def _summary(view: ExplanationView) -> html.Div:
    comparison = view.explanation.view
    row = comparison.tweet(view.tweet)
    first, second = comparison.models
    difference = explained_difference(view.explanation, view.model)
    checks = []
    for method, values in difference.methods.iterrows():
        relative = float(values["relative"])
        converged = bool(values["converged"])
        checks.append(
            html.Span(
                f"{str(method).upper()} Σ {float(values['total']):+.4g} · error {float(values['error']):.1e}"
                + (f" ({100 * relative:.2g}%)" if relative == relative and relative > 0 else "")
                + ("" if converged else " · not converged"),
                className="check ok" if converged else "check warn",
            )
        )
    return html.Div(
        [
            html.Div(
                [
                    html.Span(view.tweet, className="mono strong"),
                    html.Span(f" by {row['author_id']} · "),
                    html.Span(
                        f"#{int(row['position_a'])} under {first}, #{int(row['position_b'])} under {second}"
                    ),
                    html.Span(
                        f" · explained: {view.model}, {'final score' if view.head == FINAL else 'p(' + view.head + ')'}"
                    ),
                ],
                className="explain-line",
            ),
            html.Div(
                [
                    html.Span("Top feature ", className="muted"),
                    html.Span(view.top_feature, id="explain-top-feature", className="mono strong"),
                    html.Span(
                        f" · gap {difference.gap:+.4g} = score {difference.score:.4g} − reference {difference.reference_score:.4g}",
                        className="muted",
                    ),
                ],
                className="explain-line",
            ),
            html.Div(
                [*checks, html.Span(_SOURCES.get(view.source, view.source), className="source")],
                className="checks",
            ),
        ],
        className="explain-summary",
    )


#: The "Explain" switch: the tweet's score (SHAP / IG of the output) or its rank.
QUANTITIES = ("score", "rank")


def rank_panel(session: WorkspaceSession, query: TimelineQuery, model: str) -> html.Div:
    """The rank view of the open tweet under `model`: its rank attribution bars, or the
    message of what went wrong (the score view stays usable)."""
    try:
        if query.user is None or query.tweet is None:
            return html.Div()
        timeline = session.timeline(query.user, query.request)
        explanation = explain_rank_in_timeline(
            session.workspace, timeline, tweet=query.tweet, model=model
        )
    except Exception as error:  # shown in the panel, logged on the server
        return error_message(error, where="rank explanation")
    return html.Div(
        [
            hint(
                "Shapley values of the tweet's rank: each feature of the tweet set to the "
                "request's mean (or most frequent category), the other candidates' scores fixed."
            ),
            graph(rank_bars(explanation, model), id="explain-rank-figure"),
        ]
    )


@guarded("explanation")
def render_explanation(
    session: WorkspaceSession, data: dict[str, Any], rows: str | None = None
) -> html.Div:
    """The open tweet's explanation: summary with completeness, attribution chart (the 12
    largest features, or feature groups with `rows="groups"`, and the rest summed; values
    outside the training range marked), and the score of the tweet split by head under
    both rankers."""
    query = TimelineQuery.from_data(data)
    if query.tweet is None:
        return html.Div()
    by = BY.get(rows, "feature") if isinstance(rows, str) else "feature"
    view = session.explanation(query)
    ranges = session.feature_ranges()
    if query.chart == "waterfall":
        method = "shap" if "shap" in view.methods else view.methods[0]
        figure = attribution_waterfall(
            view.explanation, view.model, method=method, by=by, ranges=ranges
        )
    else:
        figure = attribution_bars(view.explanation, view.model, by=by, ranges=ranges)
    parts: list[Any] = [_summary(view), graph(figure, id="explain-figure")]
    notes = [
        note
        for note in (
            feature_ranges_line(view, ranges),
            sign_note(view),
        )
        if note is not None
    ]
    parts[1:1] = notes
    if by == "group":
        parts.insert(1, hint(f"Each bar sums a feature group of the spec; top: {view.top_group}."))
    if view.reference != "pair":
        neighbour = TimelineQuery(**{**data, "reference": "pair", "vs": None}).url()
        parts.append(
            html.Div(
                [
                    dcc.Link(
                        "Why above the next tweet? →",
                        href=neighbour,
                        id="explain-next-link",
                        className="action",
                    ),
                ],
                className="actions",
            )
        )
    # The switch is tabs (both views are in the page: the rank view costs one tweet's rank
    # explanation); the chosen one is kept in the URL (`explain=rank`).
    switch = html.Div(
        [
            html.Span("Explain: ", className="muted"),
            dcc.Tabs(
                id="explain-quantity",
                value=query.explain,
                children=[
                    dcc.Tab(label="score", value="score", children=html.Div(parts)),
                    dcc.Tab(
                        label="rank", value="rank", children=rank_panel(session, query, view.model)
                    ),
                ],
            ),
        ],
        className="explain-quantity",
    )
    return html.Div(
        [switch, graph(head_breakdown(view.explanation.view, view.tweet), id="explain-heads")]
    )
