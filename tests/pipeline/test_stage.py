"""The per-sample verdict cache: heads share tested sets, answers stay per candidate."""
from cleann.pipeline.stage import TimedTester


def test_heads_share_verdicts_and_words_expand_to_pieces():
    calls = []

    def model_tester(sets):
        calls.append(list(sets))
        return [3 in s for s in sets]

    cache = {}
    groups = {0: (0,), 1: (1, 2), 2: (3,)}
    words = TimedTester(model_tester, lambda c: tuple(sorted(p for n in c for p in groups[n])), cache)
    assert words([(1,), (2,), (1, 2)]) == [False, True, True]
    assert calls == [[(1, 2), (3,), (1, 2, 3)]]
    tokens = TimedTester(model_tester, lambda c: tuple(sorted(c)), cache)
    assert tokens([(3,), (2, 1), (4,)]) == [True, False, False]
    assert calls[1] == [(4,)]  # (3,) and (1, 2) were answered from the cache
    assert (words.calls, tokens.calls) == (3, 3)
