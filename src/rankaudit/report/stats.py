"""Statistics of attribution frames the report prints: completeness per method, and how far
SHAP and Integrated Gradients agree.

Inputs are long attribution frames (the columns of `rankaudit.attribution.COLUMNS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rankaudit.data import schema

__all__ = [
    "COMPLETENESS_COLUMNS",
    "NOISE",
    "agreement_per_tweet",
    "agreement_summary",
    "completeness_summary",
    "feature_agreement",
]

#: Attribution magnitudes below this (score units) are floating-point noise.
NOISE = 1e-9
_ROW = [
    schema.REQUEST_ID,
    schema.TWEET_ID,
    "vs_tweet_id",
    "model",
    "head",
    "method",
    "reference",
]
#: Columns of `completeness_summary`.
COMPLETENESS_COLUMNS = (
    "model",
    "method",
    "reference",
    "rows",
    "max_abs_error",
    "median_relative_error",
    "max_relative_error",
    "converged",
    "not_converged",
)


def completeness_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Per (model, method, reference), in order of appearance: explained rows, the largest
    absolute completeness error |Σ attributions − (score − reference score)| (score units),
    the median and largest relative error, the share of rows that converged and the count
    of rows that did not."""
    if long.empty:
        return pd.DataFrame(columns=list(COMPLETENESS_COLUMNS))
    keys = [c for c in _ROW if c in long]
    per_row = long.assign(vs_tweet_id=long["vs_tweet_id"].fillna("")).drop_duplicates(keys)
    grouped = per_row.groupby(["model", "method", "reference"], sort=False)
    table = grouped.agg(
        rows=("score", "size"),
        max_abs_error=("completeness_error", "max"),
        median_relative_error=("completeness_relative", "median"),
        max_relative_error=("completeness_relative", "max"),
        converged=("converged", "mean"),
    ).reset_index()
    table["not_converged"] = (
        grouped["converged"].apply(lambda c: int((~c.astype(bool)).sum())).to_numpy()
    )
    table["rows"] = table["rows"].astype(np.int64)
    return table[list(COMPLETENESS_COLUMNS)]


def _paired(long: pd.DataFrame, model: str) -> pd.DataFrame:
    """`model`'s rows with one column per method (shap, ig), one row per (tweet, feature)."""
    rows = long.loc[(long["model"] == model) & long["method"].isin(["shap", "ig"])]
    keys = [schema.REQUEST_ID, schema.TWEET_ID, "feature"]
    wide = rows.pivot_table(index=keys, columns="method", values="attribution", aggfunc="first")
    if not {"shap", "ig"} <= set(wide.columns):
        return pd.DataFrame(columns=["shap", "ig"])
    return wide[["shap", "ig"]].dropna()


def agreement_per_tweet(long: pd.DataFrame, model: str) -> pd.DataFrame:
    """Per explained tweet of `model`: the Pearson correlation of its SHAP and IG attributions
    across features (NaN when either is constant), and whether both methods name the same
    largest feature (|attribution|, ties by feature name). Sorted by request and tweet."""
    wide = _paired(long, model).reset_index()
    if wide.empty:
        return pd.DataFrame(columns=[schema.REQUEST_ID, schema.TWEET_ID, "pearson", "same_top"])
    out = []
    for (request, tweet), group in wide.groupby([schema.REQUEST_ID, schema.TWEET_ID], sort=True):
        shap = group["shap"].to_numpy(dtype=np.float64)
        ig = group["ig"].to_numpy(dtype=np.float64)
        defined = shap.std() > 0 and ig.std() > 0
        r = float(np.corrcoef(shap, ig)[0, 1]) if defined else float("nan")
        names = group["feature"].astype(str).to_numpy()
        order_shap = np.lexsort((names, -np.abs(shap)))
        order_ig = np.lexsort((names, -np.abs(ig)))
        out.append(
            {
                schema.REQUEST_ID: request,
                schema.TWEET_ID: tweet,
                "pearson": r,
                "same_top": bool(names[order_shap[0]] == names[order_ig[0]]),
            }
        )
    return pd.DataFrame(out)


def feature_agreement(long: pd.DataFrame, model: str) -> tuple[pd.DataFrame, float, float]:
    """Per feature, mean |SHAP| and mean |IG| of `model` (the points of
    `rankaudit.figures.importance.method_agreement`), with the Spearman correlation of the two
    rankings and the Pearson correlation of all paired row attributions."""
    wide = _paired(long, model)
    if wide.empty:
        return pd.DataFrame(columns=["feature", "mean_abs_shap", "mean_abs_ig"]), np.nan, np.nan
    per_feature = wide.abs().groupby(level="feature").mean()
    # Features constant within every explained request have attributions at noise level
    # (~1e-11): as zeros they tie, instead of being ordered by the last bits of a sum.
    per_feature = per_feature.where(per_feature >= NOISE, 0.0)
    rho = float(per_feature["shap"].rank().corr(per_feature["ig"].rank()))
    r = float(wide["shap"].corr(wide["ig"]))
    table = (
        per_feature.rename(columns={"shap": "mean_abs_shap", "ig": "mean_abs_ig"})
        .reset_index()
        .sort_values(["mean_abs_shap", "feature"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )
    table.columns = ["feature", "mean_abs_shap", "mean_abs_ig"]
    return table, rho, r


def agreement_summary(long: pd.DataFrame, model: str) -> dict[str, float | int | None]:
    """SHAP-IG agreement of `model` over the explained tweets: how many tweets, the median,
    10th percentile and minimum of the per-tweet Pearson correlation, the share of tweets
    with r >= 0.9, the share naming the same largest feature, and the feature-level Spearman
    and pooled Pearson correlations. None where undefined."""
    per_tweet = agreement_per_tweet(long, model)
    _, rho, pooled = feature_agreement(long, model)
    r = per_tweet["pearson"].dropna().to_numpy(dtype=np.float64) if len(per_tweet) else np.array([])

    def value(x: float) -> float | None:
        return None if not np.isfinite(x) else float(x)

    return {
        "tweets": len(per_tweet),
        "defined": len(r),
        "median_pearson": value(float(np.median(r))) if len(r) else None,
        "p10_pearson": value(float(np.quantile(r, 0.1))) if len(r) else None,
        "min_pearson": value(float(r.min())) if len(r) else None,
        "share_pearson_0_9": value(float((r >= 0.9).mean())) if len(r) else None,
        "same_top_feature": value(float(per_tweet["same_top"].mean())) if len(per_tweet) else None,
        "feature_spearman": value(rho),
        "pooled_pearson": value(pooled),
    }
