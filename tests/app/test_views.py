"""The views the app calls: URL state, the session's caches, and explanations equal to the
library's own."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from rankaudit.attribution import (
    INTERACTIVE_SETTINGS,
    AttributionCache,
    attribute_frame,
    resolve_methods,
)
from rankaudit.compare import compare_population, find_surprises
from rankaudit.errors import NotFoundError, ParameterError, WorkspaceError
from rankaudit.explain import explain_tweet
from rankaudit.timeline import load_side_by_side
from rankaudit.views import FeaturesQuery, SessionSettings, TimelineQuery, WorkspaceSession
from rankaudit.views.session import LRU
from tests.app.conftest import BUG_REQUEST, BUG_TWEET, BUG_USER, BUG_VS, DEMO

# ------------------------------------------------------------------------------ URL state


@pytest.mark.parametrize(
    ("query", "url"),
    [
        (TimelineQuery(), "/timeline"),
        (TimelineQuery(user="u1"), "/timeline/u1"),
        (TimelineQuery(user="u 1/x"), "/timeline/u%201%2Fx"),
        (TimelineQuery(user="u1", request="r1", tweet="t1"), "/timeline/u1?request=r1&tweet=t1"),
        (
            TimelineQuery(user="u1", request="r1", tweet="t1", model="baseline", head="reply",
                          reference="pair", vs="t2", chart="waterfall"),
            "/timeline/u1?request=r1&tweet=t1&model=baseline&head=reply&reference=pair&vs=t2&chart=waterfall",
        ),
        (TimelineQuery(user="u1", tweet="t1", reference="global"), "/timeline/u1?tweet=t1&reference=global"),
    ],
)  # fmt: skip
def test_timeline_url_round_trips(query: TimelineQuery, url: str) -> None:
    assert query.url() == url
    path, _, search = url.partition("?")
    user = path.removeprefix("/timeline").lstrip("/") or None
    params = dict(p.split("=") for p in search.split("&")) if search else {}
    assert TimelineQuery.from_params(user, params) == query


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"reference": "pairs"}, "The 'reference' parameter in the URL must be one of request, global, pair. Got 'pairs' instead."),
        ({"chart": "pie"}, "The 'chart' parameter in the URL must be one of bars, waterfall. Got 'pie' instead."),
    ],
)  # fmt: skip
def test_timeline_url_rejects_bad_options(params: dict[str, str], message: str) -> None:
    with pytest.raises(ParameterError) as caught:
        TimelineQuery.from_params("u1", params)
    assert str(caught.value) == message


def test_timeline_query_changes() -> None:
    query = TimelineQuery(user="u1", request="r1", tweet="t1", reference="pair", vs="t2")
    assert query.with_changes(reference="request").vs is None  # leaving pair drops vs
    assert query.with_changes(request="r2") == TimelineQuery(
        user="u1", request="r2", reference="pair"
    )
    assert query.with_changes(user="u2") == TimelineQuery(user="u2", reference="pair")
    # vs only counts with the pair reference; a repeated key keeps the last value (Dash: a list).
    assert TimelineQuery.from_params("u1", {"vs": "t2"}).vs is None
    assert TimelineQuery.from_params("u1", {"tweet": ["t1", "t9"]}).tweet == "t9"
    with pytest.raises(ParameterError, match="unknown timeline state"):
        query.with_changes(colour="red")


def test_features_url_round_trips() -> None:
    query = FeaturesQuery(
        model="baseline", method="ig", head="reply", reference="request", feature="x"
    )
    assert (
        query.url() == "/features?model=baseline&method=ig&head=reply&reference=request&feature=x"
    )
    assert (
        FeaturesQuery.from_params(dict(p.split("=") for p in query.url().split("?")[1].split("&")))
        == query
    )
    assert FeaturesQuery().url() == "/features"
    with pytest.raises(
        ParameterError, match="'method' parameter in the URL must be one of shap, ig"
    ):
        FeaturesQuery.from_params({"method": "lime"})


# ------------------------------------------------------------------------------- session


def test_lru_is_bounded() -> None:
    cache: LRU[int, str] = LRU(2)
    for key in range(4):
        cache.put(key, str(key))
    assert len(cache) == 2
    assert cache.get(0) is None
    assert cache.get(3) == "3"
    assert (cache.hits, cache.misses) == (1, 1)
    with pytest.raises(ParameterError, match="must be an int >= 1"):
        LRU(0)


def test_timeline_is_the_library_comparison(session: WorkspaceSession) -> None:
    view = session.timeline(BUG_USER, BUG_REQUEST)
    expected = load_side_by_side(session.workspace, user=BUG_USER, request=BUG_REQUEST)
    pd.testing.assert_frame_equal(view.comparison.rows, expected.rows)
    assert session.timeline(BUG_USER, BUG_REQUEST) is view  # cached
    tweets = view.tweets()
    assert tweets["position_b"].tolist() == list(range(1, len(tweets) + 1))
    bug = tweets.loc[tweets["tweet_id"] == BUG_TWEET].iloc[0]
    assert (bug["position_a"], bug["displacement"], bug["in_network"]) == (33, 32, False)
    deep = expected.probabilities[1]
    assert deep is not None
    assert tweets["p_reply"].tolist() == pytest.approx(deep["reply"].tolist())
    labels = expected.rows[[f"label_{h}" for h in expected.heads]].to_numpy()
    assert (tweets["engaged"] != "").tolist() == (labels.sum(axis=1) > 0).tolist()
    assert tweets.loc[tweets["negative"], "engaged"].str.contains("negative_feedback").all()
    assert view.neighbour(BUG_TWEET, "deep") == tweets["tweet_id"].iat[1]
    last = tweets["tweet_id"].iat[-1]
    assert view.neighbour(last, "deep") == tweets["tweet_id"].iat[-2]


def test_default_request_is_the_most_disputed(session: WorkspaceSession) -> None:
    view = session.timeline("u000005")
    assert view.request_id == load_side_by_side(session.workspace, user="u000005").request_id
    assert session.timeline("u000005", view.request_id) is view


def test_session_memory_is_bounded() -> None:
    small = WorkspaceSession.open(DEMO, SessionSettings(timelines=3))
    users = small.search_viewers("u0001", limit=6)
    for user in users:
        small.timeline(user)
    info = small.cache_info()
    assert info["timelines"] <= 3
    assert info["timelines_max"] == 3
    assert info["timeline_loads"] == len(users)
    small.timeline(users[-1])
    assert small.cache_info()["timeline_loads"] == len(users)  # the last one is still cached


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.timeline("u_nobody"), NotFoundError, "unknown viewer 'u_nobody': no request of workspace 'demo' was served to them (2,000 viewers). Viewer ids look like"),
        (lambda s: s.timeline(BUG_USER, "r_nothing"), NotFoundError, "unknown request 'r_nothing': viewer 'u000406' has requests"),
        (lambda s: s.timeline("u000001", BUG_REQUEST), NotFoundError, "request 'r000000819' was served to viewer 'u000406', not 'u000001'"),
        (lambda s: s.explanation(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet="t_nope")), NotFoundError, "tweet 't_nope' is not among the 33 candidates of request 'r000000819'"),
        (lambda s: s.explanation(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, head="likes")), ParameterError, "The 'head' parameter in the URL must be one of score, favorite, retweet, reply, good_click, negative_feedback for deep. Got 'likes' instead."),
        (lambda s: s.explanation(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, model="truth")), ParameterError, "The 'model' parameter in the URL must be one of baseline, deep. Got 'truth' instead."),
        (lambda s: s.explanation(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, reference="pair", vs=BUG_TWEET)), ParameterError, "The 'vs' parameter in the URL must name another tweet than 't0000020562'."),
        (lambda s: s.explanation(TimelineQuery(user=BUG_USER)), ParameterError, "an explanation needs a viewer and a tweet"),
        (lambda s: s.resolve("nobody"), NotFoundError, "unknown viewer or request 'nobody'"),
        (lambda s: s.viewer_of("r_x"), NotFoundError, "unknown request 'r_x' in workspace 'demo' (3,948 requests). Request ids look like"),
    ],
)  # fmt: skip
def test_bad_ids_are_clear_errors(
    session: WorkspaceSession, call: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        call(session)
    assert str(caught.value).startswith(message)


def test_unknown_model_in_settings() -> None:
    with pytest.raises(WorkspaceError, match="no model named 'gbdt'"):
        WorkspaceSession.open(DEMO, SessionSettings(models=("baseline", "gbdt")))


def test_resolve_viewer_or_request(session: WorkspaceSession) -> None:
    assert session.resolve(BUG_USER) == TimelineQuery(user=BUG_USER)
    assert session.resolve(f" {BUG_REQUEST} ") == TimelineQuery(user=BUG_USER, request=BUG_REQUEST)


# -------------------------------------------------------------------------- explanations


@pytest.mark.parametrize("reference", ["request", "global"])
def test_explanation_equals_explain_tweet(
    session: WorkspaceSession, library_cache: AttributionCache, reference: str
) -> None:
    expected = explain_tweet(
        session.workspace, user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, reference=reference,
        settings=INTERACTIVE_SETTINGS, cache=library_cache,
    )  # fmt: skip
    for model in ("deep", "baseline"):
        view = session.explanation(
            TimelineQuery(
                user=BUG_USER,
                request=BUG_REQUEST,
                tweet=BUG_TWEET,
                model=model,
                reference=reference,
            )  # type: ignore[arg-type]
        )
        pd.testing.assert_frame_equal(view.contributions(), expected.contributions(model))
        assert view.top_feature == expected.contributions(model)["feature"].iat[0]
        assert (view.position, view.vs_position) == ((1, None) if model == "deep" else (33, None))
    deep = session.explanation(
        TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, reference=reference)
    )  # type: ignore[arg-type]
    if reference == "request":
        assert deep.top_feature == "real_graph_weight"  # the planted bug


def test_pair_explanation_equals_explain_tweet(
    session: WorkspaceSession, library_cache: AttributionCache
) -> None:
    expected = explain_tweet(
        session.workspace, request=BUG_REQUEST, tweet=BUG_TWEET, vs_tweet=BUG_VS,
        settings=INTERACTIVE_SETTINGS, cache=library_cache,
    )  # fmt: skip
    view = session.explanation(
        TimelineQuery(
            user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, reference="pair", vs=BUG_VS
        )
    )
    pd.testing.assert_frame_equal(view.contributions(), expected.contributions("deep"))
    assert view.vs_tweet == BUG_VS
    assert view.vs_position == 4
    nearest = session.explanation(
        TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, reference="pair")
    )
    assert nearest.vs_tweet == session.timeline(BUG_USER, BUG_REQUEST).neighbour(BUG_TWEET, "deep")
    assert nearest.vs_position == 2


def test_head_explanation_is_attribute_frame(session: WorkspaceSession) -> None:
    view = session.explanation(
        TimelineQuery(
            user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, model="baseline", head="reply"
        )
    )
    ranker = session.workspace.ranker("baseline")
    rows = session.timeline(BUG_USER, BUG_REQUEST).comparison.rows.drop(
        columns=["score_a", "score_b", "position_a", "position_b", "displacement"]
    )
    expected = attribute_frame(
        ranker, rows, methods=resolve_methods(ranker, "all"), reference="request", heads=["reply"],
        settings=INTERACTIVE_SETTINGS, tweets=[BUG_TWEET],
    ).frame  # fmt: skip
    expected = expected.loc[expected["tweet_id"] == BUG_TWEET].reset_index(drop=True)
    pd.testing.assert_frame_equal(view.explanation.attributions, expected)
    assert view.methods == ("shap",)
    assert set(view.explanation.attributions["head"]) == {"reply"}
    # The same explanation again is a cache hit.
    before = session.attributions.hits
    session.explanation(
        TimelineQuery(
            user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, model="baseline", head="reply"
        )
    )
    assert session.attributions.hits == before + 1


def test_overview_is_the_library_comparison(session: WorkspaceSession) -> None:
    overview = session.overview()
    population = compare_population(session.workspace)
    assert overview.population.to_dict() == population.to_dict()
    surprises = find_surprises(session.workspace)
    pd.testing.assert_frame_equal(overview.surprises.top(10), surprises.top(10))
    summary = overview.summary
    assert (summary.rows, summary.requests, summary.users) == (98_796, 3_948, 2_000)
    assert summary.heads["negative_feedback"] == -74.0
    assert ("deep", "torch") in summary.models
