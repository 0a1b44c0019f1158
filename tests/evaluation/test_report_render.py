"""The report renders in a real headless browser (Debian's chromium) into a non-blank page."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from cleann.metrics.evaluate import run_evaluation_local
from cleann.metrics.settings import EvalSettings
from cleann.pipeline.explain import run_local
from cleann.pipeline.params import ExecParams, ExplainParams

from evalkit import NEGATIVE, POSITIVE, make_text_db


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.chromium
def test_report_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    from PIL import Image

    from cleann.models.tiny import make_tiny_classifier
    from cleann.report import write_report

    model = make_tiny_classifier(tmp_path / "model", positive_words=POSITIVE, negative_words=NEGATIVE)
    db = make_text_db(tmp_path / "c.duckdb")
    run = run_local(ExplainParams(corpus_kind="imdb", corpus_name="evaltiny", max_length=32),
                    ExecParams(batch_size=6), model, db)
    run_evaluation_local(db, run.run_id, EvalSettings(explainers=("cleann", "attention", "gxi", "ig"), n_steps=4))
    html = write_report(run.run_id, tmp_path / "report.html", db)
    png = tmp_path / "shot.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1280,2000",
           f"file://{html}"]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape[:2] == (2000, 1280)
    ink = (img.min(axis=2) < 200).mean()  # share of pixels that are not (near) white
    colors = len(np.unique(img.reshape(-1, 3)[::7], axis=0))
    assert ink > 0.02, f"page looks blank ({ink:.1%} ink)"
    assert colors > 50, f"page has only {colors} colours: charts did not render"
    # the CLEANN red (#d62728) of the cost bar / highlights is on the page
    red = ((np.abs(img.astype(int) - [214, 39, 40]).sum(axis=2)) < 30).sum()
    assert red > 100
