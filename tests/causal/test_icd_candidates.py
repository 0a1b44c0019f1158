"""ICD's candidate enumeration equals "all legal subsets of the PDS tree, then filter"."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cleann.causal.icd_candidates import depth2_pairs, legal_subsets_within
from cleann.causal.pag import ARROW, CIRCLE, PAG, TAIL
from cleann.causal.pds_tree import build_pds_tree


def _random_pag(rng: np.random.Generator) -> PAG:
    n = int(rng.integers(3, 11))
    nodes = sorted(rng.choice(n + 2, n, replace=False).tolist())
    pag = PAG(nodes, size=n + 2, complete=False)
    density = rng.uniform(0.2, 0.9)
    for a_pos in range(n):
        for b_pos in range(a_pos + 1, n):
            if rng.random() < density:
                a, b = nodes[a_pos], nodes[b_pos]
                pag.marks[a, b] = rng.choice([CIRCLE, ARROW, TAIL], p=[0.4, 0.4, 0.2])
                pag.marks[b, a] = rng.choice([CIRCLE, ARROW, TAIL], p=[0.4, 0.4, 0.2])
    return pag


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 4))
def test_pruned_enumeration_equals_filtered_full_enumeration(seed, k):
    rng = np.random.default_rng(seed)
    pag = _random_pag(rng)
    root = int(rng.choice(pag.nodes))
    allowed = np.zeros(pag.size, dtype=bool)
    allowed[list(pag.nodes)] = rng.random(len(pag.nodes)) < rng.uniform(0.3, 1.0)
    tree = build_pds_tree(pag, root, k)
    want = [(s, d) for s, d in tree.legal_subsets(k) if all(allowed[v] for v in s)]
    sets, dist = legal_subsets_within(tree, k, allowed)
    assert list(zip(map(tuple, sets.tolist()), dist.tolist())) == want
    if k == 2:
        sets2, dist2 = depth2_pairs(pag.marks, root, allowed)
        assert sets2.tolist() == sets.tolist() and dist2.tolist() == dist.tolist()
