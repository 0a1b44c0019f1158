"""FCI learner: golden causal-learn lines, hash-seed independence, mark conversion."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cleann.causal.citest import FisherZTest, attention_to_correlation
from cleann.causal.fci import learn_fci, seed0_str_hash
from conftest import GOLDEN_DIR, REPO_ROOT

FCI_FILE = GOLDEN_DIR / "fci_causallearn.jsonl"
LINES = [json.loads(line) for line in FCI_FILE.read_text().splitlines() if line.strip()] if FCI_FILE.exists() else []


def _learn(line: dict):
    case = json.loads((GOLDEN_DIR / f"{line['id']}.json").read_text())
    corr = attention_to_correlation(np.array(case["attention"], dtype=np.float64))
    return learn_fci(line["nodes"], FisherZTest(corr, line["num_samples"], line["alpha"]))


@pytest.mark.parametrize("line", LINES, ids=[line["id"] for line in LINES])
def test_matches_causallearn_golden(line):
    result = _learn(line)
    assert [list(e) for e in result.pag.edges()] == line["edges"]
    assert result.ci_tests > 0


def test_result_does_not_depend_on_interpreter_hash_seed():
    """The stored lines are causal-learn under PYTHONHASHSEED=0; some differ under other
    seeds with plain names. Ours must match them under any seed."""
    varying = [line["id"] for line in LINES if line["distinct_results_over_hash_seeds"] > 1]
    varying = varying or [line["id"] for line in LINES]  # no known-varying case: check them all
    code = (
        "import json,sys; sys.path.insert(0, 'tests'); sys.path.insert(0, 'tests/causal');"
        "import test_fci as t;"
        "print(json.dumps({l['id']: [list(e) for e in t._learn(l).pag.edges()] for l in t.LINES if l['id'] in %r}))"
        % varying
    )
    for seed in ("1", "2"):  # plain names differ from seed 0 on case_017/020 under these
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed}, cwd=REPO_ROOT,
        )
        got = json.loads(out.stdout.strip().splitlines()[-1])
        for line in LINES:
            if line["id"] in got:
                assert got[line["id"]] == line["edges"], (seed, line["id"])


def test_seed0_hash_equals_cpython():
    names = [f"X{k}" for k in range(1, 40)] + ["", "abcdefgh", "abcdefghi"]
    out = subprocess.run(
        [sys.executable, "-c", f"print([hash(s) for s in {names!r}])"],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert out.stdout.strip() == str([seed0_str_hash(s) for s in names])


def test_known_collider_example():
    """FORMAT §3: X, Y independent, Z = X + Y + e, W = Z + e gives 0 o-> 2 <-o 1, 2 --> 3."""
    cov = np.array([[1, 0, 1, 1], [0, 1, 1, 1], [1, 1, 3, 3], [1, 1, 3, 4]], dtype=float)
    s = 1 / np.sqrt(np.diag(cov))
    corr = cov * s[:, None] * s[None, :]
    pag = learn_fci(range(4), FisherZTest(corr, 1000, 0.01)).pag
    assert pag.edges() == [(0, 2, "o", ">"), (1, 2, "o", ">"), (2, 3, "-", ">")]
