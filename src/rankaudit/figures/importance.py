"""Figures of global importance: rankers side by side, the distribution of attributions per
feature (a beeswarm), one feature's dependence plot, and how far SHAP and IG agree.

Inputs are `rankaudit.importance.importance_table` rows and long attribution frames (the
columns of `rankaudit.attribution.COLUMNS`) of one model, method, reference and head.
Feature, model and head names and category values are escaped (`rankaudit.text.plotly_text`)
where they enter plotly text; `customdata` keeps the raw feature names a click reports.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from rankaudit.errors import NotFoundError
from rankaudit.figures import theme
from rankaudit.figures._format import number
from rankaudit.figures._labels import place_labels
from rankaudit.text import plotly_text, plotly_texts

__all__ = ["attribution_beeswarm", "dependence_plot", "importance_comparison", "method_agreement"]

_UNITS = {"score": "score units"}
#: The agreement plot names at most this many features (the most important; hover names all).
AGREEMENT_LABELS = 8


def _units(head: str) -> str:
    return _UNITS.get(head, f"p({plotly_text(head)})")


def importance_comparison(
    table: pd.DataFrame, models: tuple[str, ...], *, top: int = 15
) -> go.Figure:
    """Each model's share of mean |attribution| per feature, side by side (one trace per model,
    in `models` order; models absent from `table` are skipped). Features: the union of each
    model's `top`, ordered by the last model's rank (the audited ranker), then the others'.
    Shares are comparable across models whose outputs differ in scale."""
    present = [m for m in models if (table["model"] == m).any()]
    if not present:
        raise NotFoundError(f"the importance table holds none of the models {', '.join(models)}")
    chosen: list[str] = []
    for model in reversed(present):
        rows = table.loc[table["model"] == model].sort_values("rank")
        chosen.extend(f for f in rows["feature"].head(top) if f not in chosen)
    figure = go.Figure()
    labels = plotly_texts(chosen)
    for model in present:
        name = plotly_text(model)
        rows = table.loc[table["model"] == model].set_index("feature")
        share = [float(rows["share"].get(f, 0.0)) for f in chosen]
        mean_abs = [float(rows["mean_abs"].get(f, 0.0)) for f in chosen]
        rank = [rows["rank"].get(f) for f in chosen]
        figure.add_trace(
            go.Bar(
                y=labels,
                x=[100 * s for s in share],
                orientation="h",
                name=name,
                marker_color=theme.model_color(models.index(model) if len(models) == 2 else 1),
                customdata=np.column_stack(
                    [
                        mean_abs,
                        [
                            "—" if r is None or (isinstance(r, float) and math.isnan(r)) else int(r)
                            for r in rank
                        ],
                    ]
                ),
                hovertemplate="%{y}<br>"
                + name
                + ": %{x:.1f}% of mean |attribution| (%{customdata[0]:.4g}), rank %{customdata[1]}<extra></extra>",
            )
        )
    first = table.iloc[0]
    theme.apply_theme(
        figure,
        height=120 + 30 * len(chosen),
        barmode="group",
        bargap=0.22,
        title={
            "text": (
                f"Global importance, {first['method'].upper()} of the {plotly_text(first['head'])} "
                f"({first['reference']} reference)<br><sup>share of each ranker's mean "
                "|attribution|; a feature a ranker does not read gets 0</sup>"
            )
        },
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        margin={"l": 10, "r": 20, "t": 76, "b": 10},
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title_text="% of mean |attribution|", ticksuffix="%")
    return figure


def _jitter(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.32, 0.32, n)


def _top_features(long: pd.DataFrame, top: int) -> list[str]:
    magnitude = (
        long.assign(_abs=long["attribution"].abs()).groupby("feature", sort=False)["_abs"].mean()
    )
    return magnitude.sort_values(ascending=False, kind="stable").head(top).index.tolist()


def attribution_beeswarm(long: pd.DataFrame, *, top: int = 12) -> go.Figure:
    """The distribution of attributions per feature: one point per explained row, features
    with the largest mean |attribution| first, each point coloured by its feature value's
    percentile within the feature (blue low, red high; grey for categorical features). One
    trace; `customdata` holds (feature, value) per point (raw), `hovertext` the escaped
    `feature = value`, y is the feature's row, jittered."""
    features = _top_features(long, top)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    colours: list[np.ndarray] = []
    custom: list[np.ndarray] = []
    hover: list[str] = []
    for row, feature in enumerate(features):
        rows = long.loc[long["feature"] == feature]
        values = rows["feature_value"].to_numpy(dtype=np.float64)
        categorical = rows["feature_category"].notna().to_numpy()
        percentile = pd.Series(values).rank(pct=True).to_numpy()
        colour = np.where(categorical | np.isnan(values), np.nan, percentile)
        xs.append(rows["attribution"].to_numpy(dtype=np.float64))
        ys.append(row + _jitter(len(rows), seed=row))
        colours.append(colour)
        shown = np.where(
            categorical,
            rows["feature_category"].astype(str).to_numpy(),
            [number(v) for v in values],
        )
        custom.append(np.column_stack([np.full(len(rows), feature, dtype=object), shown]))
        name = plotly_text(feature)
        hover.extend(f"{name} = {plotly_text(v)}" for v in shown)
    head = str(long["head"].iat[0]) if len(long) else "score"
    figure = go.Figure(
        go.Scatter(
            x=np.concatenate(xs) if xs else [],
            y=np.concatenate(ys) if ys else [],
            mode="markers",
            marker={
                "size": 5,
                "opacity": 0.75,
                "color": np.concatenate(colours) if colours else [],
                "colorscale": [[0, "#1c7ed6"], [0.5, "#ced4da"], [1, "#e03131"]],
                "cmin": 0,
                "cmax": 1,
                "colorbar": {
                    "title": {"text": "value", "side": "right"},
                    "tickvals": [0, 1],
                    "ticktext": ["low", "high"],
                    "thickness": 10,
                    "len": 0.6,
                },
            },
            customdata=np.concatenate(custom) if custom else [],
            hovertext=hover,
            hovertemplate="%{hovertext}<br>attribution %{x:+.4f}<extra></extra>",
            showlegend=False,
        )
    )
    first = long.iloc[0] if len(long) else None
    label = (
        ""
        if first is None
        else f"{plotly_text(first['model'])} · {str(first['method']).upper()} · {first['reference']} reference"
    )
    theme.apply_theme(
        figure,
        height=110 + 34 * len(features),
        title={
            "text": f"Attributions per feature ({len(long['tweet_id'].unique()) if len(long) else 0} tweets) · {label}"
        },
    )
    figure.update_yaxes(
        tickvals=list(range(len(features))),
        ticktext=plotly_texts(features),
        # Reversed, with half a row of room beyond the first and last rows' jitter (±0.32),
        # so no point or tick label sits on the plot's edge.
        range=[len(features) - 0.5, -0.5],
        autorange=False,
        automargin=True,
        showgrid=False,
    )
    figure.update_xaxes(
        title_text=f"attribution ({_units(head)})", zeroline=True, zerolinewidth=1.5
    )
    return figure


def dependence_plot(long: pd.DataFrame, feature: str, *, bins: int = 12) -> go.Figure:
    """One feature's attribution against its value, one point per explained row, with the mean
    attribution per value bin (quantile bins; per category for categorical features). Trace 0:
    the points, trace 1: the binned means. Raises NotFoundError for a feature without rows."""
    rows = long.loc[long["feature"] == feature]
    if rows.empty:
        raise NotFoundError(
            f"no attributions of feature {feature!r}; features: {', '.join(long['feature'].unique()[:8])}"
        )
    attribution = rows["attribution"].to_numpy(dtype=np.float64)
    categorical = rows["feature_category"].notna().all()
    if categorical:
        # Category values are plotly text (axis ticks, hover): escaped before grouping.
        x = pd.Series(plotly_texts(rows["feature_category"]), index=rows.index, dtype=object)
        means = pd.Series(attribution, index=x.to_numpy()).groupby(level=0).mean().sort_values()
        # Many categories (ids): only the 30 with the most rows are shown by name.
        counts = x.value_counts()
        keep = counts.index[:30]
        mask = x.isin(keep).to_numpy()
        x_points: np.ndarray = x.to_numpy()[mask]
        y_points = attribution[mask]
        shown = means.loc[means.index.isin(keep)]
        mean_x: list[object] = shown.index.tolist()
        mean_y = [float(v) for v in shown.to_numpy()]
    else:
        values = rows["feature_value"].to_numpy(dtype=np.float64)
        x_points, y_points = values, attribution
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
        if len(edges) > 2:
            codes = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
            frame = (
                pd.DataFrame({"code": codes, "x": values, "y": attribution}).groupby("code").mean()
            )
            mean_x, mean_y = frame["x"].tolist(), frame["y"].tolist()
        else:
            frame = pd.DataFrame({"x": values, "y": attribution}).groupby("x").mean()
            mean_x, mean_y = frame.index.tolist(), frame["y"].tolist()
    first = rows.iloc[0]
    name = plotly_text(feature)
    figure = go.Figure(
        [
            go.Scatter(
                x=x_points,
                y=y_points,
                mode="markers",
                name="one tweet",
                marker={
                    "size": 5,
                    "color": theme.DEEP if first["model"] != "baseline" else theme.BASELINE,
                    "opacity": 0.45,
                },
                hovertemplate=f"{name} = %{{x}}<br>attribution %{{y:+.4f}}<extra></extra>",
            ),
            go.Scatter(
                x=mean_x,
                y=mean_y,
                mode="lines+markers",
                name="mean per bin",
                line={"color": theme.SELECTED, "width": 2.5},
                marker={"size": 6},
                hovertemplate="mean attribution %{y:+.4f}<extra></extra>",
            ),
        ]
    )
    theme.apply_theme(
        figure,
        height=380,
        title={
            "text": (
                f"Dependence on {name} · {plotly_text(first['model'])} · {str(first['method']).upper()}"
                f"<br><sup>how the attribution changes with the value ({len(rows)} tweets)</sup>"
            )
        },
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        margin={"l": 10, "r": 10, "t": 76, "b": 10},
    )
    figure.update_xaxes(title_text=name)
    if not categorical and np.isfinite(x_points.astype(np.float64)).any():
        # 5% of room on both sides: points at the extremes (0 and 1 of a binary feature)
        # would otherwise sit on the plot's edge, half clipped.
        low, high = float(np.nanmin(x_points)), float(np.nanmax(x_points))
        pad = 0.05 * (high - low) if high > low else max(abs(high), 1.0) * 0.05
        figure.update_xaxes(range=[low - pad, high + pad])
    figure.update_yaxes(
        title_text=f"attribution ({_units(str(first['head']))})", zeroline=True, zerolinewidth=1.5
    )
    return figure


def method_agreement(long: pd.DataFrame) -> go.Figure:
    """How far SHAP and IG agree on one model's rows: per feature, mean |SHAP| against mean
    |IG| (one point per feature, the diagonal = perfect agreement). The title gives the
    Spearman correlation of the two importance rankings and the Pearson correlation of the
    row-level attributions. Both axes share one range (the diagonal is y = x). The most
    important features (up to `AGREEMENT_LABELS`) are named where their label overlaps no
    other label or point (`place_labels`). Trace 0: the features, trace 1: the diagonal.
    Raises NotFoundError unless both methods are present."""
    methods = set(long["method"])
    if not {"shap", "ig"} <= methods:
        raise NotFoundError(
            f"agreement needs SHAP and IG attributions; got {', '.join(sorted(methods)) or 'none'}"
        )
    keys = ["request_id", "tweet_id", "feature"]
    wide = long.pivot_table(
        index=keys, columns="method", values="attribution", aggfunc="first"
    ).dropna()
    per_feature = wide.abs().groupby(level="feature").mean()
    rho = per_feature["shap"].rank().corr(per_feature["ig"].rank())
    r = wide["shap"].corr(wide["ig"])
    top = float(np.nanmax(per_feature.to_numpy())) if len(per_feature) else 1.0
    top = top if top > 0 else 1.0
    extent = top * 1.08
    # Plot fractions of each feature's point; labels for the most important, ties by name.
    fractions = {
        str(f): (float(x) / extent, float(y) / extent)
        for f, x, y in zip(
            per_feature.index,
            per_feature["shap"].to_numpy(dtype=np.float64),
            per_feature["ig"].to_numpy(dtype=np.float64),
            strict=True,
        )
    }
    order = sorted(fractions, key=lambda f: (-sum(fractions[f]), f))
    positions = place_labels(
        [(f, *fractions[f]) for f in order[:AGREEMENT_LABELS]],
        points=list(fractions.values()),
    )
    figure = go.Figure(
        [
            go.Scatter(
                x=per_feature["shap"],
                y=per_feature["ig"],
                mode="markers+text",
                text=[plotly_text(f) if str(f) in positions else "" for f in per_feature.index],
                textposition=[positions.get(str(f), "top center") for f in per_feature.index],
                textfont={"size": 10, "color": "#343a40"},
                cliponaxis=False,
                customdata=list(per_feature.index),
                hovertext=plotly_texts(per_feature.index),
                marker={"size": 8, "color": theme.DEEP},
                hovertemplate="%{hovertext}<br>mean |SHAP| %{x:.4g}<br>mean |IG| %{y:.4g}<extra></extra>",
                showlegend=False,
            ),
            go.Scatter(
                x=[0, extent],
                y=[0, extent],
                mode="lines",
                line={"color": "#adb5bd", "dash": "dot"},
                hoverinfo="skip",
                showlegend=False,
            ),
        ]
    )
    first = long.iloc[0]
    theme.apply_theme(
        figure,
        height=380,
        title={
            "text": (
                f"SHAP vs IG · {plotly_text(first['model'])}<br><sup>Spearman ρ of the feature rankings "
                f"{rho:.3f} · Pearson r of {len(wide):,} row attributions {r:.3f}</sup>"
            )
        },
        margin={"l": 10, "r": 10, "t": 76, "b": 10},
    )
    # The same range on both axes: the diagonal is the 45° line of perfect agreement.
    figure.update_xaxes(title_text="mean |SHAP|", range=[0, extent], nticks=6)
    figure.update_yaxes(title_text="mean |IG|", range=[0, extent], nticks=6)
    return figure
