"""`cleann serve --cron "0 2 * * *" imdb [...]`: nightly `explain_corpus` runs via Prefect."""
from __future__ import annotations

import argparse

from cleann.pipeline.params import add_explain_options, params_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="serve explain_corpus on a cron schedule (needs `prefect server start`)",
        description="Serve the explain_corpus flow with a cron schedule against the Prefect server at "
                    "PREFECT_API_URL; each scheduled run resumes the same run id, so a nightly job only "
                    "explains what is new. Stop with Ctrl-C.")
    add_explain_options(p)
    p.add_argument("--cron", required=True, help='cron expression, e.g. "0 2 * * *" (02:00 every day)')
    p.add_argument("--timezone", default="UTC")
    p.add_argument("--name", help="deployment name (default explain-<kind>)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.errors import BadInputError

    params, execution = params_from_args(args)
    try:
        from prefect.schedules import Cron

        Cron(args.cron, timezone=args.timezone)
    except Exception as exc:  # noqa: BLE001 - croniter / zoneinfo raise several kinds
        raise BadInputError(f"--cron {args.cron!r} / --timezone {args.timezone!r}: {exc}") from None
    from cleann.flows.deploy import check_api_url, serve_explain

    url = check_api_url()
    name = args.name or f"explain-{params.corpus_kind}"
    print(f"serving explain_corpus/{name} on cron {args.cron!r} ({args.timezone}) against {url}; Ctrl-C stops",
          flush=True)
    serve_explain(name, args.cron, params, execution, args.timezone)
    return 0
