"""Comparing rankers: ordering agreement and ranking metrics (vectorised over requests), one
request under two rankers, the population with intervals and paired tests, surprising
requests, and per-head evaluation on held-out data."""

from rankaudit.compare.metrics import (
    engagement_relevance,
    ndcg_at_k,
    negative_engagement,
    pr_auc,
    rce,
    roc_auc,
)
from rankaudit.compare.population import (
    AgreementMetric,
    Estimate,
    PopulationComparison,
    RankerMetric,
    SegmentSummary,
    compare_population,
    summarize_population,
)
from rankaudit.compare.ranking import (
    kendall_tau_b,
    rank_biased_overlap,
    rbo,
    spearman_rho,
    top_k_overlap,
)
from rankaudit.compare.request import (
    RequestComparison,
    TopKChange,
    compare_orderings,
    compare_request,
    locate_tweet,
)
from rankaudit.compare.scoring import ScoredRequests, score_requests, scored_from_scores
from rankaudit.compare.settings import (
    DEFAULT_MODELS,
    CompareSettings,
    Scope,
    SurpriseSettings,
)
from rankaudit.compare.stats import bootstrap_means, paired_randomization_test
from rankaudit.compare.surprise import (
    FeatureRanges,
    SurpriseList,
    find_surprises,
    score_surprises,
)
from rankaudit.errors import ParameterError

__all__ = [
    "DEFAULT_MODELS",
    "AgreementMetric",
    "CompareSettings",
    "Estimate",
    "FeatureRanges",
    "ParameterError",
    "PopulationComparison",
    "RankerMetric",
    "RequestComparison",
    "Scope",
    "ScoredRequests",
    "SegmentSummary",
    "SurpriseList",
    "SurpriseSettings",
    "TopKChange",
    "bootstrap_means",
    "compare_orderings",
    "compare_population",
    "compare_request",
    "engagement_relevance",
    "find_surprises",
    "kendall_tau_b",
    "locate_tweet",
    "ndcg_at_k",
    "negative_engagement",
    "paired_randomization_test",
    "pr_auc",
    "rank_biased_overlap",
    "rbo",
    "rce",
    "roc_auc",
    "score_requests",
    "score_surprises",
    "scored_from_scores",
    "spearman_rho",
    "summarize_population",
    "top_k_overlap",
]
