"""Comparing rankers: ranking and per-head metrics (one function each), evaluation on held-out data."""

from rankaudit.compare.metrics import engagement_relevance, ndcg_at_k, pr_auc, rce, roc_auc

__all__ = ["engagement_relevance", "ndcg_at_k", "pr_auc", "rce", "roc_auc"]
