#!/usr/bin/env bash
# The README evaluation tables: CLEANN vs baselines on held-out review snippets, full
# reviews and ml-100k users; one database, one report per corpus.
#   bash bench/results/evaluation_results.sh [SNIPPETS] [REVIEWS] [USERS] [DB]
# README tables: 500 50 943 (held-out: 2,623 test snippets, 283 test full reviews; a full
# review costs ~30 s with every baseline, so 50). Search budgets (same for CLEANN and the
# rankings) and graph options per corpus: SNIPPET_ARGS, REVIEW_ARGS, USER_ARGS (defaults
# below). `--search sample` gives the same per-sample best sets as the reference's
# per-head search (tests/pipeline/test_run_local.py) with fewer forward passes.
# Writes bench/results/evaluation_<name>.md and report_<name>.html; skip a corpus with 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
SNIPPETS=${1:-500}; REVIEWS=${2:-50}; USERS=${3:-943}; DB=${4:-bench/results/evaluation.duckdb}
SNIPPET_ARGS=${SNIPPET_ARGS:---max-set-size 2 --search sample}
REVIEW_ARGS=${REVIEW_ARGS:---max-length 128 --heads mean --max-set-size 2}
USER_ARGS=${USER_ARGS:---max-set-size 3 --search sample}
CLEANN=${CLEANN:-.venv/bin/python -m cleann}
OUT=bench/results
run() {  # name, limit, then the evaluate arguments
  local name=$1 limit=$2; shift 2
  [ "$limit" -gt 0 ] || return 0
  local started; started=$(date -u '+%Y-%m-%d %H:%M UTC')
  # shellcheck disable=SC2086
  $CLEANN evaluate "$@" --limit "$limit" --db "$DB" --format markdown | tee "$OUT/evaluation_$name.log"
  local run_id; run_id=$(awk '/^run /{print $2; exit}' "$OUT/evaluation_$name.log")
  $CLEANN report "$run_id" -o "$OUT/report_$name.html" --db "$DB"
  { echo "command: \`cleann evaluate $* --limit $limit\` (run $run_id, started $started, finished $(date -u '+%H:%M UTC'))"
    echo; grep -e '^|' -e '^explanation size' "$OUT/evaluation_$name.log"; } > "$OUT/evaluation_$name.md"
}
# shellcheck disable=SC2086
run snippets "$SNIPPETS" imdb --corpus-name rt_snippets $SNIPPET_ARGS
# shellcheck disable=SC2086
run movielens "$USERS" movielens $USER_ARGS --explainers cleann,attention,rollout,gxi,ig
# shellcheck disable=SC2086
run reviews "$REVIEWS" imdb --corpus-name pang_lee_reviews $REVIEW_ARGS
