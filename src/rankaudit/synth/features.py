"""The demo's feature spec, and which features each demo ranker reads."""

from __future__ import annotations

from rankaudit.data.spec import Feature, FeatureSpec

__all__ = ["BASELINE_FEATURES", "DEMO_SPEC", "LOG_SCALED"]


def _f(
    name: str, kind: str, group: str, unit: str, description: str, fill: float | None = None
) -> Feature:
    return Feature(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        group=group,
        description=description,
        unit=unit,
        missing="forbid" if fill is None else "fill",
        fill_value=fill,
    )


# fmt: off
DEMO_SPEC = FeatureSpec(features=(
    _f("tweet_age_minutes", "continuous", "tweet", "minutes", "Time since the tweet was created, at request time."),
    _f("has_image", "binary", "tweet", "flag", "The tweet carries at least one image."),
    _f("has_video", "binary", "tweet", "flag", "The tweet carries a video."),
    _f("has_link", "binary", "tweet", "flag", "The tweet links to an external page."),
    _f("text_length", "continuous", "tweet", "characters", "Length of the tweet text."),
    _f("num_hashtags", "continuous", "tweet", "count", "Hashtags in the tweet."),
    _f("is_reply", "binary", "tweet", "flag", "The tweet is a reply to another tweet."),
    _f("language_match", "binary", "tweet", "flag", "The tweet's language is the viewer's UI language."),
    _f("tweet_fav_count", "continuous", "tweet", "count", "Favorites the tweet had at request time."),
    _f("tweet_retweet_count", "continuous", "tweet", "count", "Retweets the tweet had at request time."),
    _f("tweet_reply_count", "continuous", "tweet", "count", "Replies the tweet had at request time."),
    _f("author_follower_count", "continuous", "author", "count", "Followers of the author."),
    _f("author_reputation", "continuous", "author", "score 0-100", "Author reputation (TweepCred-like)."),
    _f("author_verified", "binary", "author", "flag", "The author is verified."),
    _f("author_id", "categorical", "author", "id", "The author, as a learned embedding in deep models."),
    _f("real_graph_weight", "continuous", "viewer-author", "fraction 0-1",
       "Predicted interaction strength between viewer and author (real graph)."),
    _f("days_since_last_interaction", "continuous", "viewer-author", "days",
       "Days since the viewer last interacted with the author; 365 when never.", fill=365.0),
    _f("in_network", "binary", "viewer-author", "flag", "The viewer follows the author."),
    _f("mutual_follow", "binary", "viewer-author", "flag", "Viewer and author follow each other."),
    _f("social_proof_count", "continuous", "viewer-author", "count",
       "Accounts the viewer follows that engaged with the tweet (two-hop social proof)."),
    _f("topic_similarity", "continuous", "viewer-author", "cosine -1..1",
       "Similarity of the tweet's topic embedding to the viewer's recent engagements."),
    _f("viewer_account_age_days", "continuous", "viewer", "days", "Age of the viewer's account."),
    _f("viewer_like_count_50d", "continuous", "viewer", "count", "Favorites the viewer gave in the last 50 days."),
    _f("client", "categorical", "context", "category", "Client app of the request (ios, android, web)."),
    _f("is_session_start", "binary", "context", "flag", "The request opened a session (not a scroll)."),
    _f("hour_of_day", "continuous", "context", "hour 0-23", "UTC hour of the request."),
), source="demo spec")
# fmt: on

#: Heavy-tailed features the deep model normalises with sign(x) * log1p(|x|), as production does.
LOG_SCALED = frozenset(
    {
        "tweet_age_minutes",
        "num_hashtags",
        "tweet_fav_count",
        "tweet_retweet_count",
        "tweet_reply_count",
        "author_follower_count",
        "days_since_last_interaction",
        "social_proof_count",
        "viewer_account_age_days",
        "viewer_like_count_50d",
    }
)

#: What the older, pre-deep-learning system had: no embeddings, no topic or social-proof signals.
BASELINE_FEATURES = (
    "tweet_age_minutes",
    "has_image",
    "has_video",
    "has_link",
    "text_length",
    "is_reply",
    "language_match",
    "tweet_fav_count",
    "tweet_retweet_count",
    "tweet_reply_count",
    "author_follower_count",
    "author_verified",
    "real_graph_weight",
    "in_network",
    "viewer_like_count_50d",
)
