"""`cleann serve --cron "0 2 * * *" imdb [...]`: nightly `explain_corpus` runs via Prefect."""
from __future__ import annotations

import argparse

from cleann.pipeline.cli_args import add_explain_options, flow_kwargs


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
    from cleann.flows.deploy import check_api_url, serve_explain

    url = check_api_url()
    name = args.name or f"explain-{args.kind}"
    print(f"serving explain_corpus/{name} on cron {args.cron!r} ({args.timezone}) against {url}; Ctrl-C stops",
          flush=True)
    serve_explain(name, args.cron, flow_kwargs(args), args.timezone)
    return 0
