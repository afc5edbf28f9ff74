"""Simulate logged home timelines: viewers, authors, a follow graph, candidates, served order, labels.

Generation is vectorised per chunk of viewers, each chunk seeded from (seed, chunk index), so the
output is identical for a given seed whatever the machine, and memory holds one chunk at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.synth.truth import HEAD_WEIGHTS, TRUTH, GroundTruth

__all__ = ["CHUNK_USERS", "PLANTED_BUG", "World", "WorldConfig", "build_world", "planted_bug_rows"]

CHUNK_USERS = 500
TOPICS = (
    "football",
    "machine learning",
    "cooking",
    "elections",
    "music",
    "space",
    "markets",
    "gaming",
)
CLIENTS = ("ios", "android", "web")
SOURCES = ("in_network", "graph_walk", "embedding", "popular")
WINDOW_START = pd.Timestamp("2026-11-01T00:00:00Z")
WINDOW_DAYS = 14
HOLDOUT_FROM = pd.Timestamp("2026-11-11T00:00:00Z")

#: The planted logging bug: from this time on, iOS clients log real_graph_weight in percent.
PLANTED_BUG: dict[str, str | float] = {
    "feature": "real_graph_weight",
    "factor": 100.0,
    "client": "ios",
    "from": "2026-11-13T00:00:00Z",
    "story": (
        "iOS release 9.41 (rolled out 2026-11-13) logs the viewer-author real-graph weight in "
        "percent (0-100) instead of a fraction (0-1); models trained on earlier days see weak "
        "ties as extremely strong ones and push those authors to the top."
    ),
}
_OPENERS = (
    "Hot take on",
    "Thread about",
    "New post:",
    "Can't stop thinking about",
    "Quick notes on",
    "Why I love",
)


@dataclass(frozen=True)
class WorldConfig:
    users: int = 1000
    seed: int = 7

    @property
    def authors(self) -> int:
        return max(120, self.users // 5)


@dataclass(frozen=True)
class World:
    """Author-level state shared by every chunk of viewers."""

    config: WorldConfig
    followers: NDArray[np.float64]
    reputation: NDArray[np.float64]
    verified: NDArray[np.int8]
    appeal: NDArray[np.float64]
    topic: NDArray[np.int64]
    popularity: NDArray[np.float64]

    @property
    def author_ids(self) -> NDArray[np.str_]:
        return np.array([f"a{i:05d}" for i in range(len(self.followers))])

    def ground_truth(self) -> GroundTruth:
        return GroundTruth(
            heads=dict(HEAD_WEIGHTS),
            truth=TRUTH,
            author_appeal=dict(zip(self.author_ids.tolist(), self.appeal.tolist(), strict=True)),
            position_decay=0.015,
            planted_bug=PLANTED_BUG,
        )


def build_world(config: WorldConfig) -> World:
    """Draw the authors: heavy-tailed follower counts, reputation, appeal and topic."""
    rng = np.random.default_rng([config.seed, 0])
    n = config.authors
    followers = np.floor(np.exp(rng.normal(6.5, 1.9, n))).astype(np.float64)
    appeal = rng.normal(0.0, 0.6, n)
    reputation = np.clip(50 + 5 * appeal + rng.normal(0, 14, n), 0, 100).round(1)
    verified = (rng.random(n) < 1 / (1 + np.exp(-(np.log1p(followers) - 10)))).astype(np.int8)
    popularity = followers**0.6
    return World(
        config=config,
        followers=followers,
        reputation=reputation,
        verified=verified,
        appeal=appeal,
        topic=rng.integers(0, len(TOPICS), n),
        popularity=popularity / popularity.sum(),
    )


def _viewer_chunk(world: World, chunk: int, first_user: int, n_users: int) -> pd.DataFrame:
    rng = np.random.default_rng([world.config.seed, 1, chunk])
    n_authors = len(world.followers)
    # Viewers.
    pref = rng.dirichlet(np.full(len(TOPICS), 0.4), n_users)
    client = rng.choice(len(CLIENTS), n_users, p=(0.45, 0.40, 0.15))
    account_age = np.floor(rng.exponential(900, n_users)) + 1
    likes_50d = np.floor(np.exp(rng.normal(3.0, 1.4, n_users)))
    # Follow graph: each viewer follows authors drawn by popularity, with a real-graph weight per edge.
    n_follows = np.clip(np.exp(rng.normal(3.3, 0.7, n_users)).astype(np.int64), 5, 400)
    follow_user = np.repeat(np.arange(n_users), n_follows)
    follow_author = rng.choice(n_authors, len(follow_user), p=world.popularity)
    follow_weight = rng.beta(1.1, 5.0, len(follow_user))
    follow_mutual = (rng.random(len(follow_user)) < 0.15 + 0.5 * follow_weight).astype(np.int8)
    follow_start = np.r_[0, np.cumsum(n_follows)[:-1]]
    # Requests.
    n_requests = 1 + np.minimum(rng.poisson(1.0, n_users), 4)
    req_user = np.repeat(np.arange(n_users), n_requests)
    n_req = len(req_user)
    served_at = WINDOW_START + pd.to_timedelta(
        np.sort(rng.random(n_req)) * WINDOW_DAYS * 86_400, unit="s"
    ).round("s")
    served_at = served_at[rng.permutation(n_req)]
    session_start = (rng.random(n_req) < 0.35).astype(np.int8)
    n_cand = 12 + rng.poisson(13, n_req)
    # Candidates: about half in-network.
    row_req = np.repeat(np.arange(n_req), n_cand)
    n = len(row_req)
    user = req_user[row_req]
    in_net = (rng.random(n) < 0.5).astype(np.int8)
    edge = follow_start[user] + (rng.random(n) * n_follows[user]).astype(np.int64)
    oon_source = rng.choice((1, 2, 3), n, p=(0.45, 0.35, 0.20))
    source = np.where(in_net == 1, 0, oon_source)
    # Out-of-network authors: embedding candidates match the viewer's topics, others by popularity.
    oon_author = rng.choice(n_authors, n, p=world.popularity)
    author = np.where(in_net == 1, follow_author[edge], oon_author)
    rg_weight = np.where(
        in_net == 1, follow_weight[edge], rng.beta(0.3, 20.0, n) * (rng.random(n) < 0.3)
    )
    mutual = np.where(in_net == 1, follow_mutual[edge], 0).astype(np.int8)
    topic = np.where(
        (source == 2) & (rng.random(n) < 0.7),
        _sample_topics(rng, pref[user]),
        np.where(rng.random(n) < 0.7, world.topic[author], rng.integers(0, len(TOPICS), n)),
    )
    topic_sim = np.clip(
        2.5 * pref[user, topic] - 0.6 + rng.normal(0, 0.15, n) + 0.2 * (source == 2), -1, 1
    ).round(3)
    # Viewers also meet authors they do not follow (replies, quotes, search): the last
    # interaction is logged for most pairs either way, and missing (never) for the rest.
    days_since = np.where(rng.random(n) < 0.8, np.floor(rng.exponential(40.0, n)), np.nan)
    social_proof = rng.poisson(np.where(source == 1, 2.5, 0.4) * (1 + 3 * rg_weight))
    age_min = np.floor(np.exp(rng.normal(np.where(in_net == 1, 4.8, 5.6), 1.1, n))) + 1
    has_video = (rng.random(n) < 0.12).astype(np.int8)
    has_image = ((rng.random(n) < 0.30) & (has_video == 0)).astype(np.int8)
    has_link = (rng.random(n) < 0.20).astype(np.int8)
    is_reply = (rng.random(n) < 0.15).astype(np.int8)
    text_length = np.clip(rng.gamma(2.0, 55.0, n), 5, 280).astype(np.int64)
    hashtags = rng.poisson(0.5, n)
    language_match = (rng.random(n) < np.where(in_net == 1, 0.95, 0.78)).astype(np.int8)
    # Engagement so far grows with the author's reach, the tweet's age and its own virality; it
    # does not reveal the author's hidden appeal (which only the author id can teach a model).
    virality = 0.4 * np.log1p(world.followers[author]) - 2.0 + rng.normal(0.0, 0.6, n)
    exposure = np.exp(virality) * np.log1p(age_min)
    fav_count = rng.poisson(exposure * 3.0)
    rt_count = rng.poisson(exposure * 0.6)
    reply_count = rng.poisson(exposure * 0.4)
    hour = served_at.hour.to_numpy()[row_req]

    frame = pd.DataFrame(
        {
            "request_id": _ids("r", chunk, row_req, width=5),
            "user_id": [f"u{first_user + u:06d}" for u in user],
            "tweet_id": _ids("t", chunk, np.arange(n), width=6),
            "author_id": world.author_ids[author],
            "served_at": served_at[row_req],
            "tweet_age_minutes": age_min.astype(np.int64),
            "has_image": has_image,
            "has_video": has_video,
            "has_link": has_link,
            "text_length": text_length,
            "num_hashtags": hashtags.astype(np.int64),
            "is_reply": is_reply,
            "language_match": language_match,
            "tweet_fav_count": fav_count.astype(np.int64),
            "tweet_retweet_count": rt_count.astype(np.int64),
            "tweet_reply_count": reply_count.astype(np.int64),
            "author_follower_count": world.followers[author].astype(np.int64),
            "author_reputation": world.reputation[author].astype(np.float32),
            "author_verified": world.verified[author],
            "real_graph_weight": rg_weight.round(4).astype(np.float32),
            "days_since_last_interaction": days_since.astype(np.float32),
            "in_network": in_net,
            "mutual_follow": mutual,
            "social_proof_count": social_proof.astype(np.int64),
            "topic_similarity": topic_sim.astype(np.float32),
            "viewer_account_age_days": account_age[user].astype(np.int64),
            "viewer_like_count_50d": likes_50d[user].astype(np.int64),
            "client": np.array(CLIENTS)[client[user]],
            "is_session_start": session_start[row_req],
            "hour_of_day": hour.astype(np.int64),
        }
    )
    truth = world.ground_truth()
    # The served order: the production system's noisy estimate of each tweet's value.
    unbiased = truth.probabilities(frame)
    value = unbiased.to_numpy() @ np.array([HEAD_WEIGHTS[h] for h in unbiased.columns])
    served_score = value + rng.gumbel(0, 0.25, n)
    order = np.lexsort((np.arange(n), -served_score, row_req))
    position = np.empty(n, dtype=np.int64)
    starts = np.r_[0, np.cumsum(n_cand)[:-1]]
    position[order] = np.arange(n) - np.repeat(starts, n_cand) + 1
    frame.insert(5, "position", position)
    probs = truth.probabilities(frame, position.astype(np.float64))
    for head in HEAD_WEIGHTS:
        frame[f"label_{head}"] = (rng.random(n) < probs[head].to_numpy()).astype(np.int8)
    frame["tweet_text"] = _texts(rng, topic, hashtags)
    _plant_bug(frame)
    return frame


def _sample_topics(
    rng: np.random.Generator, probabilities: NDArray[np.float64]
) -> NDArray[np.int64]:
    # Vectorised categorical draw: one uniform per row against each row's cumulative distribution.
    cumulative = np.cumsum(probabilities, axis=1)
    draws = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    chosen: NDArray[np.int64] = np.minimum(
        (draws > cumulative).sum(axis=1), probabilities.shape[1] - 1
    )
    return chosen.astype(np.int64)


def _ids(prefix: str, chunk: int, index: NDArray[np.int64], *, width: int) -> list[str]:
    return [f"{prefix}{chunk:04d}{i:0{width}d}" for i in index.tolist()]


def _texts(
    rng: np.random.Generator, topic: NDArray[np.int64], hashtags: NDArray[np.int64]
) -> list[str]:
    openers = rng.integers(0, len(_OPENERS), len(topic))
    out = []
    for opener, t, tags in zip(openers.tolist(), topic.tolist(), hashtags.tolist(), strict=True):
        name = TOPICS[t]
        tag_text = " ".join(f"#{name.replace(' ', '')}{k}" for k in range(min(tags, 2)))
        out.append(f"{_OPENERS[opener]} {name}. {tag_text}".strip())
    return out


def planted_bug_rows(frame: pd.DataFrame) -> pd.Series:
    """Return the boolean mask of the rows whose logs carry the planted bug."""
    return (frame["client"] == PLANTED_BUG["client"]) & (
        frame["served_at"] >= pd.Timestamp(str(PLANTED_BUG["from"]))
    )


def _plant_bug(frame: pd.DataFrame) -> None:
    affected = planted_bug_rows(frame).to_numpy()
    column = str(PLANTED_BUG["feature"])
    values = frame[column].to_numpy(dtype=np.float64).copy()
    values[affected] *= float(PLANTED_BUG["factor"])
    frame[column] = values.astype(np.float32)


def iter_timelines(world: World) -> Iterator[pd.DataFrame]:
    """Yield the logged timelines chunk by chunk (CHUNK_USERS viewers each), rows sorted by
    (served_at, request_id, position)."""
    users = world.config.users
    for chunk, first in enumerate(range(0, users, CHUNK_USERS)):
        frame = _viewer_chunk(world, chunk, first, min(CHUNK_USERS, users - first))
        yield frame.sort_values(["served_at", "request_id", "position"], kind="stable").reset_index(
            drop=True
        )
