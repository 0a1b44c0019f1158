"""Start the explain and evaluate jobs for the CLI: checked first, then Prefect or in-process.

Why here: the library (`cleann.pipeline`, `cleann.metrics`) never imports Prefect or the
flows; the CLI is the layer on top that chooses. Inputs are checked before Prefect
starts (a mistake is one line, exit 2, nothing written); the flows are imported only
when a run really starts.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from cleann.metrics.settings import EvalSettings
from cleann.pipeline.params import ExecParams, ExplainParams, params_from_kwargs


def _progress(to_stderr: bool):
    def show(batch_id: str, n: int) -> None:
        print(f"loaded batch {batch_id} ({n} samples)", flush=True, file=sys.stderr if to_stderr else sys.stdout)

    return show


def run_explain(params: ExplainParams, execution: ExecParams, use_prefect: bool = True,
                progress_to_stderr: bool = False) -> dict:
    """The explain job's summary dict (run id, status, counts, seconds). In-process runs
    print one line per loaded batch (on stderr when stdout carries CSV or JSON)."""
    from cleann.pipeline.explain import check_inputs

    check_inputs(params, execution)
    if use_prefect:
        from cleann.flows.explain import explain_corpus

        return explain_corpus(params, execution)
    from cleann.pipeline.explain import run_local

    return run_local(params, execution, on_batch=_progress(progress_to_stderr)).as_dict()


def run_explain_kwargs(kwargs: Mapping[str, Any], use_prefect: bool = True, progress_to_stderr: bool = False) -> dict:
    """:func:`run_explain` from flat keywords (field names of both parameter classes)."""
    return run_explain(*params_from_kwargs(kwargs), use_prefect=use_prefect, progress_to_stderr=progress_to_stderr)


def run_evaluate(params: ExplainParams, execution: ExecParams, settings: EvalSettings, command: str | None,
                 use_prefect: bool = True) -> dict:
    """Explain (resuming the same run), then evaluate; run id, explain summary, summary rows."""
    from cleann.pipeline.explain import check_inputs

    check_inputs(params, execution)
    if use_prefect:
        from cleann.flows.evaluate import evaluate_corpus

        return evaluate_corpus(settings, params, execution, command)
    from cleann.config import default_db_path
    from cleann.metrics.evaluate import run_evaluation_local
    from cleann.pipeline.explain import run_local

    summary = run_local(params, execution).as_dict()
    table = run_evaluation_local(execution.db or default_db_path(), summary["run_id"], settings, execution.limit,
                                 execution.batch_size, execution.staging_dir, command, execution.device)
    return {"run_id": summary["run_id"], "explain": summary, "summary": table.to_dict(orient="records")}


def format_summary(summary: Mapping[str, Any], fmt: str) -> str:
    """A run summary as table lines (people), one CSV row with header, or JSON (scripts)."""
    from cleann.cli._output import render

    def table() -> str:
        from cleann.pipeline.explain import summary_lines

        return "\n".join(summary_lines(dict(summary)))

    return render(fmt, [summary], document=dict(summary), table=table)
