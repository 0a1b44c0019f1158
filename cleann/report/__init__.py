"""Self-contained HTML report (`cleann report RUN_ID -o report.html`): the evaluation with the
corpus page, or the corpus page alone for a run that was not evaluated."""
from __future__ import annotations

from pathlib import Path


def write_report(run_id: str, out: str | Path, db_path: str | Path | None = None, n_examples: int = 6) -> Path:
    """Read the run's evaluation from DuckDB (read-only) and write one HTML file."""
    from cleann.config import default_db_path
    from cleann.store.runs import open_db
    from cleann.report.data import has_evaluation, load_corpus_data, load_report_data
    from cleann.report.html import render_corpus_page, render_report

    with open_db(db_path or default_db_path(), read_only=True) as con:
        if has_evaluation(con, run_id):
            html = render_report(load_report_data(con, run_id, n_examples))
        else:  # an explanation run not evaluated yet: the corpus page alone
            html = render_corpus_page(load_corpus_data(con, run_id))
    path = Path(out)
    path.write_text(html, encoding="utf-8")
    return path
