"""CLEANN engine: attention -> PAG (ICD or FCI) -> minimal explanations of a target.

    from cleann.causal import explain_attention, learn_graph, search_explanations

causal-learn (behind ``learn_fci``) is imported only when first used.
"""
from __future__ import annotations

from cleann.causal.explain import Explanation, LearnedGraph, explain_attention, learn_graph
from cleann.causal.pag import PAG
from cleann.causal.pds_tree import PDSTree, build_pds_tree
from cleann.causal.search import SearchResult, contains_any, search_explanations, search_tree

__all__ = [
    "PAG", "PDSTree", "Explanation", "LearnedGraph", "SearchResult",
    "explain_attention", "learn_graph", "search_explanations", "search_tree",
    "build_pds_tree", "contains_any", "learn_fci", "learn_icd", "FisherZTest", "attention_to_correlation",
]


def __getattr__(name: str):
    if name == "learn_fci":
        from cleann.causal.fci import learn_fci

        return learn_fci
    if name == "learn_icd":
        from cleann.causal.icd import learn_icd

        return learn_icd
    if name in ("FisherZTest", "attention_to_correlation"):
        from cleann.causal import citest

        return getattr(citest, name)
    raise AttributeError(f"module 'cleann.causal' has no attribute {name!r}")
