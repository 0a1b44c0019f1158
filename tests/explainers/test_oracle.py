"""The exhaustive oracle: fixed test order, first-hit stop, minimal size, budgets, and
that it is the ceiling of every other explainer's found share and size."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from cleann.explainers import Sample, get_explainer
from cleann.metrics.per_sample import evaluate_ranking
from cleann.metrics.probes import TextProbe

from explainkit import text_sample


class FakeView:
    def __init__(self, n: int):
        self.special = np.array([True] + [False] * n + [True])  # [CLS] x1..xn [SEP]


class RecordingTester:
    """Changes the output iff the removed set contains all of one of ``flipping`` sets."""

    def __init__(self, flipping):
        self.flipping = [set(f) for f in flipping]
        self.calls: list[list[tuple[int, ...]]] = []

    def __call__(self, sets):
        self.calls.append(list(sets))
        return [any(f <= set(s) for f in self.flipping) for s in sets]


def _oracle(tester, n=6, **options):
    return get_explainer("oracle", **options).explain(Sample("s", "text", FakeView(n), tester=tester))


def test_sets_are_tested_in_lexicographic_order_in_chunks_until_the_first_hit():
    tester = RecordingTester([(3, 5)])
    exp = _oracle(tester, chunk=4, max_set_size=3)
    tested = [s for call in tester.calls for s in call]
    order = [(p,) for p in range(1, 7)] + list(combinations(range(1, 7), 2))
    assert tested == order[:len(tested)]
    assert all(len(call) <= 4 for call in tester.calls)
    assert [len(c) for c in tester.calls[:2]] == [4, 2]  # chunks do not cross sizes
    hit = list(combinations(range(1, 7), 2)).index((3, 5))
    assert len(tested) == 6 + (hit // 4 + 1) * 4  # stopped after the chunk holding the first hit
    assert exp.status == "ok" and exp.best_set == (3, 5) and exp.sets == ((3, 5),)
    assert exp.cost.forward_rows == len(tested) and exp.scores is None


def test_not_found_and_budget_statuses():
    never = RecordingTester([])
    exp = _oracle(never, max_set_size=2)
    assert exp.status == "not_found" and exp.sets == () and exp.cost.forward_rows == 6 + 15
    small = RecordingTester([(1, 2, 3)])
    exp = _oracle(small, max_set_size=3, max_rows=10, chunk=4)
    assert exp.status == "budget" and "budget 10" in exp.reason and exp.cost.forward_rows == 10
    assert sum(len(c) for c in small.calls) == 10
    # None = every size, still bounded by the row budget
    assert _oracle(RecordingTester([(1, 2, 3, 4, 5, 6)]), max_set_size=None, max_rows=None).best_set == (
        1, 2, 3, 4, 5, 6)


def _pos(sample, word):
    return sample.view.tokens.index(word)


@pytest.mark.parametrize("removal", ["pad", "mask", "delete"])
def test_known_smallest_sets_on_the_lexicon_classifier(lexicon_backend, removal):
    # class 1 (2 positive > 1 negative): removing either positive word makes a tie -> class 0
    s = text_sample(lexicon_backend, "the acting was good and the plot was great but the ending was bad", removal)
    assert s.view.pred == 1
    exp = get_explainer("oracle", max_set_size=3).explain(s)
    assert exp.best_set == (_pos(s, "good"),) and set(exp.sets) <= {(_pos(s, "good"),), (_pos(s, "great"),)}
    # class 0 (1 positive vs 2 negative): only removing both negative words flips it
    s = text_sample(lexicon_backend, "a good film , bad and awful", removal)
    assert s.view.pred == 0
    exp = get_explainer("oracle", max_set_size=3).explain(s)
    assert exp.sets == ((_pos(s, "bad"), _pos(s, "awful")),)
    assert get_explainer("oracle", max_set_size=1).explain(s).status == "not_found"


TEXTS = ["this movie was really fun but the plot is dull .", "an awful , boring mess with one good scene",
         "i love it", "great cast , terrible script , fun ending", "nothing happens for two hours"]


def test_the_oracle_is_the_ceiling_of_found_and_size(text_backend):
    """No ranking finds a flipping top-k the oracle misses or beats it in size, same budget."""
    budget = 3
    for text in TEXTS:
        sample = text_sample(text_backend, text)
        oracle_exp = get_explainer("oracle", max_set_size=budget).explain(sample)
        assert oracle_exp.status in ("ok", "not_found")
        removal = TextProbe(sample.tester)
        for name in ("attention", "gxi", "ig"):
            explainer = get_explainer(name, **({"n_steps": 16} if name == "ig" else {}))
            values = evaluate_ranking(explainer.explain(sample), removal, max_k=budget)
            if values["found"]:
                assert oracle_exp.status == "ok" and len(oracle_exp.best_set) <= values["size"]
