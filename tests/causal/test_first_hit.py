"""First-hit search (``search='first'``): its set is the exhaustive modes' rank 0.

Rank 0 is the accepted set with the smallest ``(size, dist_sum, head, index)`` over all
heads (cleann.causal.multihead). The property is checked on random attention heads with
random verdict functions (many examples, engine only), with node groups that map one node
to several positions (word nodes), and with a row budget.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleann.causal.multihead import (
    ModelRowBudgetExceeded, Verdicts, first_hit, learn_heads, search_heads,
)
from cleann.errors import BadInputError


@dataclass(frozen=True)
class Plan:
    """A node plan: the head's matrix, the target, node -> token positions."""

    attention: np.ndarray
    target: int
    groups: tuple[tuple[int, ...], ...]
    nodes: tuple[int, ...] | None = None

    def to_positions(self, node_set):
        return tuple(sorted(p for n in node_set for p in self.groups[n]))

    def representative(self, node):
        return self.groups[node][0]


def _heads(seed: int, n_heads: int, size: int, merge: bool, num_samples: int):
    rng = np.random.default_rng(seed)
    heads = []
    for h in range(n_heads):
        logits = 2.5 * rng.standard_normal((size, size))
        logits[:, 0] += rng.uniform(0, 3)
        a = np.exp(logits)
        a /= a.sum(axis=1, keepdims=True)
        # word nodes: node i stands for positions {2i, 2i+1} (node 0, the target, for {0})
        groups = tuple((0,) if i == 0 else ((2 * i - 1, 2 * i) if merge else (i,)) for i in range(size))
        heads.append((h, a, Plan(a, 0, groups)))
    return learn_heads(heads, num_samples=num_samples, alpha=0.01)


def _verdict(seed: int, rate: float):
    """A deterministic 'does removing these positions flip the output' of the positions only."""
    def accept(positions):
        digest = hashlib.blake2b(repr((seed, positions)).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2 ** 64 < rate

    def tester(cands):
        return [accept(c) for c in cands]

    return tester


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(seed=st.integers(0, 10_000), n_heads=st.integers(1, 4), size=st.integers(3, 9), merge=st.booleans(),
       rate=st.sampled_from([0.02, 0.1, 0.3]), chunk=st.sampled_from([1, 3, 16]),
       limit=st.sampled_from([None, 1, 2, 3]), num_samples=st.sampled_from([24, 64, 384]))
def test_first_hit_is_the_exhaustive_rank_0(seed, n_heads, size, merge, rate, chunk, limit, num_samples):
    heads = _heads(seed, n_heads, size, merge, num_samples)
    tester = _verdict(seed, rate)
    exhaustive = {}
    for mode in ("head", "sample"):
        found = search_heads(heads, Verdicts(tester), search=mode, max_set_size=limit)
        exhaustive[mode] = found
    first = search_heads(heads, Verdicts(tester), search="first", max_set_size=limit, chunk_rows=chunk)
    best = {mode: (f.ranked()[0][0], f.ranked()[0][3]) if f.ranked() else None for mode, f in exhaustive.items()}
    assert best["head"] == best["sample"]
    got = (first.ranked()[0][0], first.ranked()[0][3]) if first.ranked() else None
    assert got == best["head"]
    assert first.status == ("ok" if got else "not_found") == exhaustive["head"].status
    # one accepted set, under the head that ranks it first; never more rows than 'sample'
    assert sum(len(r) for r in first.results) == (1 if got else 0)
    assert first.rows <= exhaustive["sample"].rows
    if got is None:
        assert first.rows == exhaustive["sample"].rows  # nothing found: every allowed set tested once


def test_ties_go_to_the_lower_head_then_the_head_order():
    heads = _heads(3, 3, 6, False, 384)
    everything = _verdict(0, 1.0)  # every set flips: rank 0 is the first size-1 set by (dist, head, index)
    found = search_heads(heads, Verdicts(everything), search="first", chunk_rows=1)
    (h, node_set, dist), = [(h, r[0][0], r[0][1]) for h, r in enumerate(found.results) if r]
    firsts = [(int(d[0]), i, tuple(s[0])) for i, hg in enumerate(heads)
              for s, d in [hg.tree.legal_subset_arrays(1)] if len(s)]
    assert (dist, h, node_set) == min(firsts)
    assert found.rows == 1  # chunk of one row: the very first candidate


@SETTINGS
@given(seed=st.integers(0, 10_000), budget=st.integers(1, 40), rate=st.sampled_from([0.01, 0.1]))
def test_budget_never_exceeded_and_a_hit_within_it_is_found(seed, budget, rate):
    heads = _heads(seed, 2, 8, False, 384)
    tester = _verdict(seed, rate)
    free = search_heads(heads, Verdicts(tester), search="first", max_set_size=3, chunk_rows=16)
    tight = search_heads(heads, Verdicts(tester, max_rows=budget), search="first", max_set_size=3, chunk_rows=16)
    assert tight.rows <= budget
    if free.rows <= budget:  # the budget-free search needed no more: same answer
        assert (tight.status, tight.results) == (free.status, free.results)
    elif tight.status == "ok":  # the hit lay in the part of a chunk the budget still allowed
        assert tight.results == free.results and tight.rows == budget
    else:  # tested within the budget: the budget-free order's prefix, without a hit
        assert tight.status == "budget" and "budget of" in tight.reason and not any(tight.results)
        assert tight.rows == budget


def test_budget_exception_and_bad_arguments():
    heads = _heads(1, 2, 6, False, 384)
    with pytest.raises(ModelRowBudgetExceeded):
        first_hit(heads, Verdicts(_verdict(0, 0.0), max_rows=2), max_set_size=2)
    with pytest.raises(BadInputError, match="chunk_rows"):
        first_hit(heads, Verdicts(_verdict(0, 0.0)), chunk_rows=0)
    with pytest.raises(BadInputError, match="max_set_size"):
        first_hit(heads, Verdicts(_verdict(0, 0.0)), max_set_size=-1)
    with pytest.raises(BadInputError, match="search"):
        search_heads(heads, Verdicts(_verdict(0, 0.0)), search="fastest")
    none = search_heads(heads, Verdicts(_verdict(0, 1.0)), search="first", max_set_size=0)
    assert (none.status, none.rows) == ("not_found", 0)


# --- the same property through the CLEANN explainer, on the tiny lexicon classifier -------
POSITIVE = ["good", "great", "fun", "brilliant"]
NEGATIVE = ["bad", "awful", "boring", "dull"]
NEUTRAL = ["the", "movie", "plot", "was", "and", "but", "not", "very", "acting", "story"]


@pytest.fixture(scope="module")
def lexicon_backend(tmp_path_factory):
    from cleann.models.tiny import make_tiny_classifier
    from cleann.pipeline.batch import TextBackend

    path = make_tiny_classifier(tmp_path_factory.mktemp("lex") / "m", positive_words=POSITIVE,
                                negative_words=NEGATIVE, num_heads=4)
    return TextBackend(str(path))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(POSITIVE + NEGATIVE + NEUTRAL), min_size=2, max_size=10),
       nodes=st.sampled_from(["all", "words", "topk:5"]), heads=st.sampled_from(["all", "0,2", "mean"]))
def test_explainer_first_equals_exhaustive_rank_0_on_the_lexicon_model(lexicon_backend, words, nodes, heads):
    from cleann.explainers import get_explainer
    from cleann.explainers.base import Sample

    view, = lexicon_backend.infer([" ".join(words)], 1, 64)
    results = {}
    for search in ("head", "sample", "first"):
        explainer = get_explainer("cleann", num_samples=768, heads=heads, nodes=nodes, search=search,
                                  max_set_size=3, max_model_rows=None)
        tester = lexicon_backend.tester(view, "pad")
        results[search] = explainer.explain(Sample("s", "text", view, tester=tester))
    head, sample, first = results["head"], results["sample"], results["first"]
    assert first.best_set == head.best_set == sample.best_set
    assert first.status == head.status and first.status in ("ok", "not_found")
    assert first.cost.forward_rows <= sample.cost.forward_rows <= head.cost.forward_rows
    if first.best_set is not None:  # the lexicon rule: the removal drops a word of the predicted polarity
        removed = {view.tokens[p] for p in first.best_set}
        assert removed & set(POSITIVE if view.pred == 1 else NEGATIVE)
    assert first.cost.seconds >= first.cost.graph_seconds + first.cost.model_seconds


class _LeadTester:
    """Verdicts plus a deterministic lead per set (the original output's margin after the
    removal); a set flips iff its lead is negative, as with a real classifier. Sets of one
    node move the lead less than larger ones, so the rule has something to read."""

    def __init__(self, seed: int, rate: float, original: float = 4.0):
        self.seed, self.rate, self.original_lead = seed, rate, original
        self.leads: dict[tuple[int, ...], float] = {}

    def lead(self, positions) -> float:
        digest = hashlib.blake2b(repr((self.seed, positions)).encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2 ** 64
        return self.original_lead * (u - self.rate) / (1 - self.rate)  # < 0 with probability rate

    def __call__(self, cands, until_hit=False):
        out = []
        for c in cands:
            self.leads[c] = self.lead(c)
            out.append(self.leads[c] < 0)
        return out


@SETTINGS
@given(seed=st.integers(0, 10_000), n_heads=st.integers(1, 3), size=st.integers(4, 9),
       rate=st.sampled_from([0.01, 0.05, 0.2]), ratio=st.sampled_from([0.0, 0.2, 0.5, 0.9]),
       limit=st.sampled_from([3, 4]))
def test_stop_rule_only_ends_searches_early(seed, n_heads, size, rate, ratio, limit):
    """The stop rule never changes a found set: what it finds is the unbounded search's rank 0;
    it stops only before size 3 or larger, when every row so far kept more than ``ratio`` of
    the original lead, and then says so; it never runs more rows than the search without it."""
    heads = _heads(seed, n_heads, size, False, 384)
    free = search_heads(heads, Verdicts(_LeadTester(seed, rate)), search="first", max_set_size=limit)
    tester = _LeadTester(seed, rate)
    ruled = search_heads(heads, Verdicts(tester), search="first", max_set_size=limit, stop_ratio=ratio)
    assert ruled.rows <= free.rows
    if ruled.status == "ok":
        assert ruled.results == free.results and ruled.rows == free.rows
    elif ruled.status == "budget":
        assert "stopped before size" in ruled.reason and min(tester.leads.values()) > ratio * tester.original_lead
        assert max(len(p) for p in tester.leads) >= 2  # never before size 2
        assert free.status == "not_found" or ruled.rows < free.rows
    else:
        assert (ruled.status, ruled.rows) == (free.status, free.rows)


def test_stop_rule_needs_leads_and_waits_for_size_3():
    heads = _heads(5, 2, 8, False, 384)
    plain = search_heads(heads, Verdicts(_verdict(0, 0.0)), search="first", max_set_size=3, stop_ratio=0.0)
    assert plain.status == "not_found"  # a tester without leads is never stopped
    far = _LeadTester(0, 0.0)  # never flips, every lead in [0, 4)
    stopped = search_heads(heads, Verdicts(far), search="first", max_set_size=3, stop_ratio=-1.0)
    assert stopped.status == "budget" and {len(p) for p in far.leads} == {1, 2}
    assert "before size 3" in stopped.reason
    near = _LeadTester(0, 0.0)
    kept = search_heads(heads, Verdicts(near), search="first", max_set_size=3, stop_ratio=1.0)
    assert kept.status == "not_found" and 3 in {len(p) for p in near.leads}  # never above 100 % of the lead


def test_chunks_grow_within_a_size_and_restart_at_the_next():
    """16 rows first, then twice as many per chunk up to 4x, per size; a size with a hit
    ends with the chunk that holds it."""
    heads = _heads(11, 3, 12, False, 384)
    sizes_seen = []

    def never(cands):
        sizes_seen.append((len(cands[0]), len(cands)))
        return [False] * len(cands)

    search_heads(heads, Verdicts(never), search="first", max_set_size=2, chunk_rows=2)
    by_size = {}
    for k, n in sizes_seen:
        by_size.setdefault(k, []).append(n)
    for k, calls in by_size.items():
        full = calls[:-1]  # the last chunk of a size may be cut short by the candidates left
        assert full == [min(2 * 2 ** i, 8) for i in range(len(full))], (k, calls)
    assert len(by_size[2]) >= 4  # enough size-2 chunks to reach the cap
