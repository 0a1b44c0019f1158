"""All metrics of one explainer on one sample, from one batched removal call.

Why one batch: comprehensiveness/sufficiency at CLEANN's size, the ERASER bins and the
first chunk of tokens-to-flip prefixes are all removal sets of the same input, so they
go to the model together; further prefix chunks are only tried while nothing flipped.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cleann.explainers.base import Explanation
from cleann.metrics.faithfulness import (ERASER_BINS, aopc, bin_sizes, comprehensiveness,
                                         sufficiency)
from cleann.metrics.flip import first_flip, prefixes
from cleann.metrics.probes import Outcome, RemovalProbe


def cost_metrics(attr: Explanation, infer_seconds: float = 0.0) -> dict[str, float]:
    """Per-sample cost as metric rows (mirrors the typed ``explainer_costs`` row): seconds
    include the sample's inference share, passes are model rows beyond inference."""
    return {"seconds": float(attr.cost.seconds) + float(infer_seconds),
            "forward_passes": float(attr.cost.forward_rows), "backward_passes": float(attr.cost.backward_rows)}


def _complement(candidates: Sequence[int], kept: Sequence[int]) -> tuple[int, ...]:
    keep = set(kept)
    return tuple(p for p in candidates if p not in keep)


def evaluate_set(attr: Explanation, probe: RemovalProbe, infer_seconds: float = 0.0) -> dict[str, float]:
    """Set explainers (CLEANN, the oracle): size, found, and faithfulness of the best set."""
    out = {"n_candidates": float(len(probe.candidates)), **cost_metrics(attr, infer_seconds)}
    if not attr.best_set:
        out["found"] = 0.0
        return out
    s = tuple(sorted(attr.best_set))
    res = probe([s, _complement(probe.candidates, s)])
    out.update(found=float(res.changed[0]),
               comprehensiveness=float(comprehensiveness(probe.full_prob, res.prob[0])),
               sufficiency=float(sufficiency(probe.full_prob, res.prob[1])))
    if res.changed[0]:
        out["size"] = float(len(s))
        out.update(_replacement(res.replacement_rank[0]))
    return out


def evaluate_ranking(attr: Explanation, probe: RemovalProbe, *, reference_size: int | None = None,
                     bins: Sequence[float] = ERASER_BINS, max_k: int | None = None,
                     chunk: int = 32, infer_seconds: float = 0.0) -> dict[str, float]:
    """Ranking explainers: tokens-to-flip (as ``size``), comp/suff at ``reference_size``
    (CLEANN's set size on this sample), per-bin comp/suff and AOPC."""
    ranking = attr.ranking()
    cand = probe.candidates
    n = len(ranking)
    limit = n if max_k is None else min(n, max_k)
    out: dict[str, float] = {"n_candidates": float(n), **cost_metrics(attr, infer_seconds)}
    sizes = bin_sizes(n, bins)
    fixed: list[tuple[int, ...]] = []
    for k in sizes:
        top = tuple(sorted(ranking[:k]))
        fixed += [top, _complement(cand, top)]
    if reference_size:
        k = min(reference_size, n)
        top = tuple(sorted(ranking[:k]))
        fixed += [top, _complement(cand, top)]
    stop = min(limit, chunk) + 1
    first = prefixes(ranking, 1, stop)
    res = probe(fixed + first)
    head, flips = res.take(slice(0, len(fixed))), [res.take(slice(len(fixed), None))]
    comp = comprehensiveness(probe.full_prob, head.prob[0:2 * len(sizes):2])
    suff = sufficiency(probe.full_prob, head.prob[1:2 * len(sizes):2])
    for b, c, s in zip(bins, comp, suff):
        pct = f"{round(b * 100):d}"
        out[f"comp@{pct}"], out[f"suff@{pct}"] = float(c), float(s)
    out["aopc_comp"], out["aopc_suff"] = aopc(comp), aopc(suff)
    if reference_size:
        out["comprehensiveness"] = float(comprehensiveness(probe.full_prob, head.prob[-2]))
        out["sufficiency"] = float(sufficiency(probe.full_prob, head.prob[-1]))
    k = first_flip(flips[0].changed)
    while k is None and stop <= limit:
        start, stop = stop, min(limit, stop + chunk - 1) + 1
        flips.append(probe(prefixes(ranking, start, stop)))
        k = first_flip(flips[-1].changed, start=start)
    out["found"] = float(k is not None)
    if k is not None:
        out["size"] = float(k)
        out.update(_replacement(Outcome.concat(flips).replacement_rank[k - 1]))
    return out


def _replacement(rank: float) -> dict[str, float]:
    if np.isnan(rank):
        return {}
    inside = rank > 0
    return {"replacement_in_topk": float(inside), **({"replacement_rank": float(rank)} if inside else {})}
