"""The golden checker command passes on the shared cases and fails loudly on a broken one."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import GOLDEN_DIR, REPO_ROOT


def _run(directory) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cleann.causal.golden", str(directory)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
    )


def test_checker_passes_on_shared_cases():
    out = _run(GOLDEN_DIR)
    assert out.returncode == 0, out.stdout + out.stderr
    last = out.stdout.strip().splitlines()[-1]
    n = len(list(GOLDEN_DIR.glob("case_*.json")))
    assert last.startswith(f"{n}/{n} cases match; graphs ") and last.endswith("x faster)"), last
    assert any(line.startswith("fci: ") for line in out.stdout.splitlines())


def test_checker_reports_a_mismatch(tmp_path):
    case = json.loads((GOLDEN_DIR / "case_000.json").read_text())
    case["explain"][0]["tester_calls"] += 1
    case["pag"]["edges"] = case["pag"]["edges"][1:]
    case.get("robustness", {}).pop("ascending_variant", None)
    (tmp_path / "case_000.json").write_text(json.dumps(case))
    shutil.copy(GOLDEN_DIR / "case_001.json", tmp_path)
    out = _run(tmp_path)
    assert out.returncode == 1
    lines = out.stdout.strip().splitlines()
    assert any(line.startswith("case_000: PAG differs") for line in lines)
    assert any(line.startswith("case_000: explain[0]") and "tester_calls" in line for line in lines)
    assert lines[-1].startswith("1/2 cases match; graphs ")


def test_checker_rejects_empty_folder(tmp_path):
    out = _run(tmp_path)
    assert out.returncode == 2 and "no case_" in out.stderr
