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


def check_schedule(cron: str, timezone: str) -> None:
    """The cron expression and the IANA timezone, validated by Prefect's own schedule
    model (``prefect.schedules.Cron`` accepts any timezone text; the server refuses it
    only after serving has started)."""
    from pydantic import ValidationError
    from prefect.client.schemas.schedules import CronSchedule

    from cleann.errors import BadInputError, shorten

    if not timezone.strip():  # Prefect takes "" as "no timezone": an unset $TZ, say; not a choice
        raise BadInputError("--timezone '': empty; use an IANA name such as Europe/Paris (default UTC)")
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        field = "--timezone" if "timezone" in message.lower() else "--cron"
        value = timezone if field == "--timezone" else cron
        raise BadInputError(f"{field} {shorten(value, 80)!r}: {shorten(' '.join(message.split()), 200)}") from None


API_TIMEOUT_S = 3.0


def check_api_reachable(url: str, timeout_s: float = API_TIMEOUT_S) -> None:
    """A Prefect API answers at ``url`` (its /health, through Prefect's own client with
    the configured key, so Prefect Cloud's authentication applies; built for ``url`` itself,
    never an ephemeral server); else one line, before serving starts."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY

    from cleann.errors import BadInputError, shorten
    from cleann.flows.deploy import SERVER_HINT

    client = SyncPrefectClient(url, api_key=PREFECT_API_KEY.value(), auth_string=PREFECT_API_AUTH_STRING.value(),
                               httpx_settings={"timeout": timeout_s})
    with client:
        problem = client.api_healthcheck()
    if problem is not None:
        reason = shorten(" ".join(str(problem).split()), 160)
        raise BadInputError(f"PREFECT_API_URL {shorten(url, 120)}: no Prefect API answers ({reason}); {SERVER_HINT}")


def handle(args: argparse.Namespace) -> int:
    from cleann.pipeline.explain import check_inputs

    params, execution = params_from_args(args)
    check_schedule(args.cron, args.timezone)
    check_inputs(params, execution)
    from cleann.flows.deploy import check_api_url, serve_explain

    url = check_api_url()
    check_api_reachable(url)
    name = args.name or f"explain-{params.corpus_kind}"
    print(f"serving explain_corpus/{name} on cron {args.cron!r} ({args.timezone}) against {url}; Ctrl-C stops",
          flush=True)
    serve_explain(name, args.cron, params, execution, args.timezone)
    return 0
