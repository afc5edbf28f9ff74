"""What the web app's views compute, as library functions: a session over one workspace with
bounded caches, and the frozen values each page renders (timeline, explanation, overview,
features). No web framework is imported here; the figures are in `rankaudit.figures`."""

from rankaudit.views.explanation import ExplanationView, explain_in_timeline
from rankaudit.views.features import FeaturesView, build_features
from rankaudit.views.overview import OverviewView, WorkspaceSummary, build_overview
from rankaudit.views.query import FeaturesQuery, TimelineQuery, parse_search
from rankaudit.views.session import LRU, SessionSettings, WorkspaceSession
from rankaudit.views.timeline import TimelineView

__all__ = [
    "LRU",
    "ExplanationView",
    "FeaturesQuery",
    "FeaturesView",
    "OverviewView",
    "SessionSettings",
    "TimelineQuery",
    "TimelineView",
    "WorkspaceSession",
    "WorkspaceSummary",
    "build_features",
    "build_overview",
    "explain_in_timeline",
    "parse_search",
]
