"""The exhaustive oracle: the smallest set of positions whose removal changes the output.

Why: it is the ceiling of "found" and of minimality within a budget, so every other
explainer's found share and size can be read as a distance from the optimum. It asks the
model only through the sample's batched removal tester, the one CLEANN's search uses, so
"changes the output" means exactly the same thing for both.

Order (fixed, documented): sizes 1, 2, ..., ``max_set_size``; within a size, the
combinations of the removable positions in lexicographic order of ascending positions
(``itertools.combinations``). Sets go to the tester in chunks of ``chunk``; the search
stops after the first chunk that holds a hit, so ``sets`` are the hits of that chunk in
test order (all of the minimal size; other minimal sets later in the order are not
listed). ``max_rows`` bounds the model rows per sample: reaching it without a hit gives
status ``budget``; trying every allowed size without a hit gives ``not_found``.
"""
from __future__ import annotations

import math
import time
from itertools import combinations, islice

from cleann.explainers.base import Cost, Explainer, Explanation, Sample
from cleann.explainers.counting import removable_positions


class Oracle(Explainer):
    """Exhaustive smallest flipping set, sizes 1..``max_set_size`` (None: every size)."""

    name = "oracle"

    def __init__(self, max_set_size: int | None = 2, max_rows: int | None = 5000, chunk: int = 64) -> None:
        if max_set_size is not None and max_set_size < 1:
            raise ValueError(f"max_set_size {max_set_size} must be at least 1 (or None)")
        if chunk < 1 or (max_rows is not None and max_rows < 1):
            raise ValueError("chunk and max_rows must be at least 1")
        self.max_set_size, self.max_rows, self.chunk = max_set_size, max_rows, int(chunk)

    def _explain(self, sample: Sample) -> Explanation:
        if sample.tester is None:
            raise ValueError(f"sample {sample.sample_id}: the oracle needs the sample's removal tester")
        cand = removable_positions(sample)
        top = len(cand) if self.max_set_size is None else min(self.max_set_size, len(cand))
        rows, model_s = 0, 0.0
        for size in range(1, top + 1):
            sets = combinations(cand, size)
            left = math.comb(len(cand), size)
            while left:
                room = self.chunk if self.max_rows is None else min(self.chunk, self.max_rows - rows)
                if room <= 0:
                    reason = (f"model-row budget {self.max_rows} reached at size {size} "
                              f"({left} sets of that size untested)")
                    return self._result(cand, (), "budget", reason, rows, model_s)
                part = list(islice(sets, room))
                t0 = time.perf_counter()
                verdicts = sample.tester(part)
                model_s += time.perf_counter() - t0
                rows += len(part)
                left -= len(part)
                hits = tuple(s for s, v in zip(part, verdicts) if v)
                if hits:
                    return self._result(cand, hits, "ok", None, rows, model_s)
        return self._result(cand, (), "not_found", f"no set of size <= {top} changes the output", rows, model_s)

    def _result(self, cand, sets, status, reason, rows, model_s) -> Explanation:
        return Explanation(self.name, cand, sets=sets, status=status, reason=reason,
                           cost=Cost(model_seconds=model_s, forward_rows=rows))
