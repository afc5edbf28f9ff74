"""References as groups: rows that share one set of baseline rows.

Every reference is expressed the same way, so each attributor has one job: explain
``f(row) - mean(f(baselines))`` for every row of a group.

- `global`: one group, baselines = a seeded background sample of the logs;
- `request`: one group per request, baselines = the request's own candidates (each row is
  compared with the mean over all candidates, itself included, as the reference score is);
- `pair`: one group per explained tweet, baseline = the other tweet of the pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from rankaudit.attribution.settings import AttributionSettings
from rankaudit.data import schema
from rankaudit.errors import NotFoundError

__all__ = ["Group", "global_groups", "only_tweets", "pair_groups", "request_groups"]


@dataclass(frozen=True)
class Group:
    """Rows explained against the same baselines (both prepared log frames)."""

    rows: pd.DataFrame
    baselines: pd.DataFrame
    vs_tweet: str | None = None
    #: The request reference: every candidate is a row and a baseline, so the path from
    #: candidate j to candidate i serves row i and, reversed, row j (IG budgets for both).
    shared_paths: bool = False


def global_groups(frame: pd.DataFrame, background: pd.DataFrame) -> Iterator[Group]:
    """One group: every row against the background sample."""
    yield Group(rows=frame, baselines=background)


def request_groups(frame: pd.DataFrame, settings: AttributionSettings) -> Iterator[Group]:
    """One group per request (requests in first-appearance order), baselines = its candidates,
    or a seeded sample of `max_baselines` of them for larger timelines."""
    for request, rows in frame.groupby(schema.REQUEST_ID, sort=False):
        baselines = rows
        if len(rows) > settings.max_baselines:
            seed = [settings.seed, int(pd.util.hash_array(np.array([str(request)]))[0] % (2**32))]
            chosen = np.sort(
                np.random.default_rng(seed).choice(len(rows), settings.max_baselines, replace=False)
            )
            baselines = rows.iloc[chosen]
        yield Group(rows=rows, baselines=baselines, shared_paths=True)


def pair_groups(frame: pd.DataFrame, tweet: str, vs_tweet: str) -> Iterator[Group]:
    """Why is `tweet` above (or below) `vs_tweet`: f(tweet) - f(vs_tweet), both of one request.

    `frame` holds the candidates of the request; raises NotFoundError naming the missing tweet
    or the two requests when the tweets were not served together.
    """
    found = {}
    for name in (tweet, vs_tweet):
        rows = frame.loc[frame[schema.TWEET_ID] == name]
        if rows.empty:
            raise NotFoundError(f"unknown tweet {name!r} in the selected rows")
        found[name] = rows
    requests = {n: set(r[schema.REQUEST_ID]) for n, r in found.items()}
    shared = sorted(requests[tweet] & requests[vs_tweet])
    if not shared:
        raise NotFoundError(
            f"tweets {tweet!r} (request {sorted(requests[tweet])[0]}) and {vs_tweet!r} "
            f"(request {sorted(requests[vs_tweet])[0]}) were not served in the same request; "
            "a pair must come from one timeline"
        )
    request = shared[0]
    pick = {n: r.loc[r[schema.REQUEST_ID] == request].iloc[[0]] for n, r in found.items()}
    yield Group(rows=pick[tweet], baselines=pick[vs_tweet], vs_tweet=vs_tweet)


def only_tweets(groups: Iterable[Group], tweets: Iterable[str]) -> Iterator[Group]:
    """The same groups with only `tweets` left to explain (baselines unchanged); groups left
    with nothing to explain are dropped."""
    wanted = set(tweets)
    for group in groups:
        rows = group.rows.loc[group.rows[schema.TWEET_ID].isin(wanted)]
        if not rows.empty:
            yield replace(group, rows=rows)
