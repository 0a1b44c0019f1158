"""The per-sample verdict cache and the model-row budget, and the stage's budget rows."""
from __future__ import annotations

import pytest

from cleann.causal.multihead import ModelRowBudgetExceeded, TimedTester, Verdicts
from cleann.pipeline import explain
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.db import connect

from pipeline_helpers import TEXTS


def test_heads_share_verdicts_and_words_expand_to_pieces():
    calls = []

    def model_tester(sets):
        calls.append(list(sets))
        return [3 in s for s in sets]

    verdicts = Verdicts(model_tester)
    groups = {0: (0,), 1: (1, 2), 2: (3,)}
    words = TimedTester(verdicts, lambda c: tuple(sorted(p for n in c for p in groups[n])))
    assert words([(1,), (2,), (1, 2)]) == [False, True, True]
    assert calls == [[(1, 2), (3,), (1, 2, 3)]]
    tokens = TimedTester(verdicts, lambda c: tuple(sorted(c)))
    assert tokens([(3,), (2, 1), (4,)]) == [True, False, False]
    assert calls[1] == [(4,)]  # (3,) and (1, 2) were answered from the cache
    assert (words.calls, tokens.calls, verdicts.rows) == (3, 3, 4)


def test_budget_refuses_a_call_that_would_exceed_it():
    verdicts = Verdicts(lambda sets: [False] * len(sets), max_rows=3)
    assert verdicts([(1,), (2,)]) == [False, False]
    assert verdicts([(1,), (2,)]) == [False, False]  # cached: no rows
    with pytest.raises(ModelRowBudgetExceeded, match="budget of 3"):
        verdicts([(3,), (4,)])
    assert verdicts.rows == 2 and verdicts.remaining() == 1


PARAMS = ExplainParams(corpus_name="tiny", num_samples=768)


def test_budget_samples_are_stored_as_budget_with_the_reason(text_db, tiny_text_model):
    tight = explain.run_local(PARAMS.with_(max_model_rows=1), ExecParams(batch_size=5), tiny_text_model, text_db)
    free = explain.run_local(PARAMS, ExecParams(batch_size=5), tiny_text_model, text_db)
    assert tight.run_id != free.run_id and tight.done == free.done == len(TEXTS)
    con = connect(text_db, read_only=True)
    q = ("SELECT sample_id, explain_status, explain_reason, model_rows, best_size FROM samples "
         "WHERE run_id = ? ORDER BY 1")
    a, b = (con.execute(q, [r]).fetchall() for r in (tight.run_id, free.run_id))
    heads = con.execute("SELECT count(*) FROM explain_heads WHERE run_id = ?", [tight.run_id]).fetchall()[0][0]
    con.close()
    assert heads == 2 * len(TEXTS)  # graphs are stored whatever the search concluded
    assert {s for _, s, *_ in b} <= {"ok", "not_found"} and any(s == "ok" for _, s, *_ in b)
    assert any(s == "budget" for _, s, *_ in a)
    for (sid, status, reason, rows, best), (_, free_status, _, free_rows, free_best) in zip(a, b):
        assert rows <= 1
        if status == "budget":
            assert best is None and "budget of 1" in reason and free_rows > 1
        else:  # within one row the search ends as it does without a budget
            assert (status, best) == (free_status, free_best) and reason is None or status == "not_found"
