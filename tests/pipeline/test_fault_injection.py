"""Transient faults in 20 % of batches: Prefect retries them and the run ends with exactly
the rows of a clean run.

The fault is injected at the batch worker's entry (``cleann.pipeline.batch.process_batch``,
looked up at call time by the explain job's work step; the threads runner keeps workers
in this process). Seeded choice of the failing batches; half of them fail before any
work, half after their results were staged (the retry overwrites the same files, and the
loader replaces rather than appends).
"""
from __future__ import annotations

import errno
import math
import random
import threading

import pytest

from cleann.pipeline import batch, explain
from cleann.pipeline.params import ExecParams, ExplainParams

from pipeline_helpers import TEXTS, make_text_db, table_rows

pytestmark = pytest.mark.flow
PARAMS = ExplainParams(corpus_name="tiny", num_samples=768)
FAIL_SHARE = 0.2
SEED = 12


def test_transient_faults_in_a_fifth_of_batches_are_retried_to_identical_rows(
        prefect_harness, tmp_path, tiny_text_model, monkeypatch):
    from cleann.flows.explain import explain_corpus

    clean_db = make_text_db(tmp_path / "clean.duckdb")
    clean = explain.run_local(PARAMS, ExecParams(batch_size=1), tiny_text_model, clean_db)
    expected = table_rows(clean_db, clean.run_id)

    real = batch.process_batch
    attempts: dict[str, int] = {}
    injected: list[tuple[str, str]] = []
    lock = threading.Lock()
    chosen: dict[str, str] = {}

    def flaky(staging, batch_id, *args, **kwargs):
        with lock:
            if not chosen:  # first call: every batch is staged by now; pick a seeded 20 %
                ids = sorted(p.split("/")[-1].split(".")[0]
                             for p in staging.fs.glob(f"{staging.base}/inputs/*.parquet"))
                k = max(1, math.ceil(FAIL_SHARE * len(ids)))
                picked = random.Random(SEED).sample(ids, k)
                chosen.update({b: ("before" if i % 2 == 0 else "after") for i, b in enumerate(picked)})
                chosen.setdefault("_n", str(len(ids)))
            attempts[batch_id] = attempts.get(batch_id, 0) + 1
            first = attempts[batch_id] == 1
        when = chosen.get(batch_id)
        if first and when == "before":
            injected.append((batch_id, when))
            raise TimeoutError(f"injected: worker timed out on {batch_id}")
        result = real(staging, batch_id, *args, **kwargs)
        if first and when == "after":
            injected.append((batch_id, when))
            raise OSError(errno.EIO, f"injected: I/O error after staging {batch_id}")
        return result

    monkeypatch.setattr(batch, "process_batch", flaky)
    db = make_text_db(tmp_path / "flaky.duckdb")
    execution = ExecParams(model=str(tiny_text_model), db=str(db), batch_size=1, runner="threads",
                           workers=2)
    summary = explain_corpus(PARAMS, execution)

    n_batches = int(chosen["_n"])
    assert n_batches == len(TEXTS)
    assert len(injected) == math.ceil(FAIL_SHARE * n_batches) == 2
    assert {w for _b, w in injected} == {"before", "after"}
    # every injected batch ran exactly twice (one retry), the others once
    assert sum(attempts.values()) == n_batches + len(injected)
    assert all(attempts[b] == 2 for b, _w in injected)
    assert (summary["status"], summary["done"], summary["failed"]) == ("completed", len(TEXTS), 0)
    assert summary["run_id"] == clean.run_id
    assert table_rows(db, summary["run_id"]) == expected
