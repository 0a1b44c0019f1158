"""Text of a run summary, and a one-screen view of query results, for the CLI."""
from __future__ import annotations

import pandas as pd


def summary_lines(summary: dict) -> list[str]:
    lines = [
        f"run {summary['run_id']}: {summary['status']}",
        f"  samples in run: {summary['done']} ok, {summary['failed']} failed; processed now: "
        f"{summary['processed_now']} in {summary['seconds']:.1f} s ({summary['samples_per_s']:.2f} samples/s)",
    ]
    if summary.get("failed_batches"):
        lines.append(f"  {summary['failed_batches']} batch(es) could not be processed; re-run to resume")
    if summary["failed"]:
        lines.append(f"  see `cleann query failures --run {summary['run_id']}`; "
                     f"`cleann retry {summary['run_id']}` re-runs them")
    return lines


def format_frame(frame: pd.DataFrame, fmt: str = "table", max_rows: int | None = None) -> str:
    """table (aligned text), csv or json (records) for a query result."""
    if fmt == "csv":
        return frame.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return frame.to_json(orient="records", date_format="iso")
    if frame.empty:
        return "(no rows)"
    shown = frame if max_rows is None else frame.head(max_rows)
    text = shown.to_string(index=False, max_colwidth=60)
    if max_rows is not None and len(frame) > max_rows:
        text += f"\n... {len(frame) - max_rows} more rows"
    return text
