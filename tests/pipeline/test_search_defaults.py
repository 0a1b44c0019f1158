"""The search's defaults as the parameter declaration states them (issue 19): the stop rule
belongs to the first-hit text search, 'none' switches a default limit off on the CLI, and
runs that cannot use the rule keep their earlier run ids."""
import argparse

import pytest

from cleann.pipeline.explain import concurrent_batches
from cleann.pipeline.params import ExecParams, ExplainParams, add_explain_options, params_from_args


def _parse(argv):
    p = argparse.ArgumentParser()
    add_explain_options(p)
    return params_from_args(p.parse_args(argv))


def test_stop_rule_is_on_for_the_default_text_search_only():
    assert ExplainParams().stop_ratio == 0.35
    assert '"stop_ratio":0.35' in ExplainParams().to_json()
    assert ExplainParams(search="head").stop_ratio is None  # the rule is first-hit only
    assert ExplainParams(search="sample", stop_ratio=0.9).stop_ratio is None
    assert ExplainParams(corpus_kind="movielens").stop_ratio is None  # users cost ~20 rows: no rule
    assert "stop_ratio" not in ExplainParams(search="head").to_json()  # old head-search run ids unchanged


def test_none_switches_limits_off_and_numbers_are_checked():
    params, _ = _parse(["imdb", "--stop-ratio", "none", "--max-model-rows", "none"])
    assert params.stop_ratio is None and params.max_model_rows is None
    params, _ = _parse(["imdb", "--stop-ratio", "0.5"])
    assert params.stop_ratio == 0.5 and params.to_json() != ExplainParams().to_json()
    with pytest.raises(SystemExit):
        _parse(["imdb", "--stop-ratio", "lots"])
    with pytest.raises(Exception, match="stop-ratio"):
        ExplainParams(stop_ratio=-0.1)


@pytest.mark.parametrize("runner,workers,expected", [("threads", 3, 3), ("sequential", None, 1),
                                                     ("processes", 4, 1), ("dask", None, 1)])
def test_concurrent_batches_per_process(runner, workers, expected):
    assert concurrent_batches(ExecParams(runner=runner, workers=workers)) == expected
