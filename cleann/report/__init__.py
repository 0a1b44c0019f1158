"""Self-contained HTML evaluation report (`cleann report RUN_ID -o report.html`)."""
from __future__ import annotations

from pathlib import Path


def write_report(run_id: str, out: str | Path, db_path: str | Path | None = None, n_examples: int = 6) -> Path:
    """Read the run's evaluation from DuckDB (read-only) and write one HTML file."""
    from cleann.config import default_db_path
    from cleann.pipeline.dbopen import open_db
    from cleann.report.data import load_report_data
    from cleann.report.html import render_report

    with open_db(db_path or default_db_path(), read_only=True) as con:
        data = load_report_data(con, run_id, n_examples)
    path = Path(out)
    path.write_text(render_report(data), encoding="utf-8")
    return path
