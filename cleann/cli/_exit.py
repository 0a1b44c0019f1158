"""Exit codes of `cleann`, defined once: what a shell script or a scheduler can rely on.

Why: a run that ends ``failed`` or ``partial`` used to exit 0, so a script could not tell
success from failure (issue 22). The commands that run jobs (explain, retry, evaluate,
demo) map the run's status to a code; `sql` and `query` use the same numbers for their
outcomes. Each command's ``--help`` ends with its table (:func:`add_exit_codes`), the
README's Usage section shows the same.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

OK = 0            # the run completed: every selected sample explained
FAILED = 1        # the run failed (nothing produced, the job could not run), or a query hit a limit
USER_ERROR = 2    # a user mistake: one line on stderr, nothing started (argparse and CleannError)
PARTIAL = 3       # the run is partial: some samples or batches failed
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)

STATUS_CODES = {"completed": OK, "partial": PARTIAL, "failed": FAILED, "interrupted": INTERRUPTED}
# How bad each code is, for a command that runs several jobs (demo): the worst one wins.
_SEVERITY = {OK: 0, PARTIAL: 1, FAILED: 2, USER_ERROR: 3, INTERRUPTED: 4}

JOB_EPILOG = """exit codes:
  0    completed: every selected sample was explained
  1    failed: the run produced nothing or could not run (the run's error says why)
  2    a user mistake: one line on stderr, nothing was started
  3    partial: some samples or batches failed (`cleann retry RUN_ID` or a re-run finishes them)
  130  interrupted by Ctrl-C: the run is marked interrupted; the same command resumes it"""

QUERY_EPILOG = """exit codes:
  0    the query ran
  1    the query was stopped by --timeout or ran out of --memory-limit
  2    a user mistake (bad SQL, a refused statement, an unknown name): one line on stderr
  130  interrupted by Ctrl-C"""


def code_for_status(status: str | None) -> int:
    """The exit code of a run that ended with ``status`` (an unknown status is a failure)."""
    return STATUS_CODES.get(str(status), FAILED)


def evaluate_code(result: Mapping[str, Any]) -> int:
    """The exit code of `cleann evaluate` (and each demo job): the explain run's status;
    partial when explaining completed but some evaluation batches failed."""
    code = code_for_status((result.get("explain") or {}).get("status"))
    if code == OK and result.get("failed_batches"):
        return PARTIAL
    return code


def worst(codes: Iterable[int]) -> int:
    """The most severe of several exit codes (OK for none)."""
    return max(codes, key=lambda c: _SEVERITY.get(c, 2), default=OK)


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but the exit-code table keeps its lines (the description is
    still wrapped to the terminal)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit codes:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_exit_codes(parser: argparse.ArgumentParser, epilog: str = JOB_EPILOG) -> None:
    """End the command's ``--help`` with its exit codes, one per line."""
    parser.epilog = epilog
    parser.formatter_class = _HelpFormatter
