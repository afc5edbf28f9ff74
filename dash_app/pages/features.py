"""Features page: `/features?model=&method=&head=&reference=&feature=`.

Global importance of both rankers side by side, SHAP vs IG agreement, the distribution of one
ranker's attributions per feature and one feature's dependence plot. Controls write the URL;
a click on a feature (bar, beeswarm row or agreement point) opens its dependence plot.
"""

from __future__ import annotations

from dataclasses import asdict
from html import unescape
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html

from dash_app.components import (
    control,
    error_message,
    graph,
    guarded,
    head_dropdown,
    hint,
    navigation,
    panel,
    radio,
)
from rankaudit.attribution import FINAL
from rankaudit.figures import (
    attribution_beeswarm,
    dependence_plot,
    importance_comparison,
    method_agreement,
)
from rankaudit.views import FeaturesQuery, WorkspaceSession
from rankaudit.views.query import MAX_PARAM_LENGTH

__all__ = ["clicked_feature_url", "controls_url", "layout", "register", "render_features"]


def _query(data: Any) -> FeaturesQuery:
    # The stored query comes back from the browser: checked like a URL (ParameterError).
    return FeaturesQuery.from_data(data)


def layout(session: WorkspaceSession, **params: Any) -> html.Div:
    """The page for a URL: controls from the URL, the figures when the callback has them."""
    try:
        query = FeaturesQuery.from_params(params)
    except Exception as error:
        return html.Div(
            [
                html.H2("Features", className="page-title"),
                error_message(error, where="features url"),
            ]
        )
    model = query.model or session.models[1]
    try:
        heads = [FINAL, *(getattr(session.workspace.ranker(model), "heads", ()) or ())]
    except Exception:  # an unknown model is reported by the callback
        heads = [FINAL]
    controls = html.Div(
        [
            control("Ranker (distribution)", radio("features-model", list(session.models), model)),
            control("Method", radio("features-method", ["shap", "ig"], query.method)),
            control("Output", head_dropdown("features-head", heads, query.head), wide=True),
            control(
                "Reference", radio("features-reference", ["global", "request"], query.reference)
            ),
            control(
                "Feature (dependence)",
                dcc.Dropdown(
                    id="features-feature",
                    options=[{"label": f.name, "value": f.name} for f in session.workspace.spec],
                    value=query.feature,
                    placeholder="most important",
                    className="dropdown",
                ),
                wide=True,
            ),
        ],
        className="controls",
    )
    return html.Div(
        [
            dcc.Store(id="features-query", data=asdict(query)),
            html.Div(html.H2("Features", className="page-title"), className="page-head"),
            panel(None, controls),
            dcc.Loading(
                html.Div(
                    hint(
                        "Explaining a seeded sample of requests with both rankers (seconds the first time)…"
                    ),
                    id="features-body",
                ),
                type="dot",
                delay_show=200,
            ),
        ]
    )


@guarded("features")
def render_features(session: WorkspaceSession, data: dict[str, Any]) -> html.Div:
    """Importance side by side, agreement, beeswarm and dependence for the URL's query."""
    view = session.features(_query(data))
    query = view.query
    model, feature = str(query.model), str(query.feature)  # resolved by the session
    notes = [
        f"Over {view.source} ({view.rows:,} tweets); {query.reference} reference: "
        + (
            "each tweet against a background sample of training rows."
            if query.reference == "global"
            else "each tweet against the mean of its own request (what reorders a timeline)."
        )
    ]
    notes.extend(f"{model}: {reason}." for model, reason in view.missing.items())
    importance = panel(
        None, graph(importance_comparison(view.importance, view.models), id="features-importance")
    )
    dependence = panel(
        None, graph(dependence_plot(view.attributions, feature), id="features-dependence")
    )
    beeswarm = panel(None, graph(attribution_beeswarm(view.attributions), id="features-beeswarm"))
    # Cards are paired by height, so that no card is stretched to half-empty beside a
    # taller one: the tall importance chart beside a column of two shorter charts.
    if view.agreement is not None:
        agreement = panel(None, graph(method_agreement(view.agreement), id="features-agreement"))
        side, below = [agreement, dependence], [beeswarm]
    else:
        notes.append(f"SHAP vs IG: only {query.method.upper()} applies to {model}.")
        side, below = [dependence, beeswarm], []
    return html.Div(
        [
            html.Div([hint(n) for n in notes]),
            html.Div(
                [importance, html.Div(side, className="stack")],
                className="grid-2 grid-top",
            ),
            *below,
        ]
    )


@navigation("features controls")
def controls_url(
    session: WorkspaceSession,
    data: dict[str, Any],
    model: str | None,
    method: str | None,
    head: str | None,
    reference: str | None,
    feature: str | None,
) -> str | None:
    """The URL the controls ask for; None when it is the current view. Another ranker resets
    the head (heads differ between rankers)."""
    query = _query(data)
    default = session.models[1]
    current = query.model or default
    chosen = model or current
    updated = query.with_changes(
        model=chosen if query.model is not None or chosen != default else None,
        method=method or query.method,
        head=FINAL if chosen != current else head or query.head,
        reference=reference or query.reference,
        feature=feature,
    )
    # Control values come from the browser: the new state is checked as a URL would be.
    FeaturesQuery.from_data(asdict(updated))
    return None if updated == query else updated.url()


@navigation("features click")
def clicked_feature_url(data: Any, click: Any) -> str | None:
    """The URL of the feature clicked in a figure (a bar's y, a point's customdata); None
    without a click (or with a malformed one)."""
    if not isinstance(click, dict) or not isinstance(click.get("points"), list):
        return None
    point = click["points"][0] if click["points"] else None
    if not isinstance(point, dict):
        return None
    custom = point.get("customdata")
    feature: str | None = None
    if isinstance(point.get("y"), str):  # a bar: y is the feature, escaped for plotly
        feature = unescape(point["y"])
    elif isinstance(custom, str):  # an agreement point
        feature = custom
    elif isinstance(custom, list) and custom and isinstance(custom[0], str):  # a beeswarm point
        feature = custom[0]
    query = _query(data)
    if not feature or len(feature) > MAX_PARAM_LENGTH or feature == query.feature:
        return None
    return query.with_changes(feature=feature).url()


def register(app: Dash, session: WorkspaceSession) -> None:
    """Register the page at `/features` and its callbacks."""

    def page(**params: Any) -> html.Div:
        return layout(session, **params)

    dash.register_page(
        "dash_app.pages.features",
        path="/features",
        layout=page,
        title="rankaudit · features",
        order=3,
    )

    @app.callback(Output("features-body", "children"), Input("features-query", "data"))
    def _features(data: dict[str, Any]) -> Any:
        return render_features(session, data)

    @app.callback(
        Output("app-nav", "href", allow_duplicate=True),
        Input("features-model", "value"),
        Input("features-method", "value"),
        Input("features-head", "value"),
        Input("features-reference", "value"),
        Input("features-feature", "value"),
        State("features-query", "data"),
        prevent_initial_call=True,
    )
    def _controls(
        model: str | None,
        method: str | None,
        head: str | None,
        reference: str | None,
        feature: str | None,
        data: dict[str, Any],
    ) -> Any:
        return (
            controls_url(session, data, model, method, head, reference, feature) or dash.no_update
        )

    for figure_id in ("features-importance", "features-agreement", "features-beeswarm"):

        @app.callback(
            Output("app-nav", "href", allow_duplicate=True),
            Input(figure_id, "clickData"),
            State("features-query", "data"),
            prevent_initial_call=True,
        )
        def _click(click: dict[str, Any] | None, data: dict[str, Any]) -> Any:
            return clicked_feature_url(data, click) or dash.no_update
