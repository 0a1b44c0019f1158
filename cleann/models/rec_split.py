"""Leave-one-out split of interaction logs for next-item recommendation.

Why: BERT4Rec's protocol (Sun et al. 2019) orders each user's interactions by time and
holds out the last item for test and the second last for validation; training sees
only the rest. Keeping the split in one place keeps training and evaluation honest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cleann.errors import BadInputError


@dataclass
class LeaveOneOut:
    """Per-user chronological item sequences (user-facing item ids), split leave-one-out.

    ``sequences[u]`` is the full sequence of user ``users[u]``; training uses
    ``train(u) = seq[:-2]``, validation predicts ``seq[-2]`` from ``seq[:-2]`` and test
    predicts ``seq[-1]`` from ``seq[:-1]``.
    """

    users: np.ndarray
    sequences: list[np.ndarray]
    item_ids: np.ndarray  # sorted unique item ids: the model's vocabulary

    def train(self, u: int) -> np.ndarray:
        return self.sequences[u][:-2]

    def valid(self, u: int) -> tuple[np.ndarray, int]:
        s = self.sequences[u]
        return s[:-2], int(s[-2])

    def test(self, u: int) -> tuple[np.ndarray, int]:
        s = self.sequences[u]
        return s[:-1], int(s[-1])

    def __len__(self) -> int:
        return len(self.users)


def leave_one_out(interactions: pd.DataFrame, min_len: int = 3) -> LeaveOneOut:
    """Group ``interactions`` (user_id, item_id, ts) into time-ordered sequences.

    Ties in ``ts`` keep the input row order (stable sort), so the split is deterministic
    for a given file. Users with fewer than ``min_len`` interactions are dropped.
    """
    missing = {"user_id", "item_id", "ts"} - set(interactions.columns)
    if missing:
        raise BadInputError(f"interactions: missing column(s) {sorted(missing)}")
    df = interactions[["user_id", "item_id", "ts"]].reset_index(drop=True)
    df = df.assign(_row=np.arange(len(df))).sort_values(["user_id", "ts", "_row"],
                                                         kind="stable")
    users, starts, counts = np.unique(df["user_id"].to_numpy(), return_index=True,
                                      return_counts=True)
    items = df["item_id"].to_numpy(dtype=np.int64)
    keep = counts >= min_len
    seqs = [items[s:s + c] for s, c, k in zip(starts, counts, keep) if k]
    if not seqs:
        raise BadInputError(f"interactions: no user has at least {min_len} interactions")
    return LeaveOneOut(users=users[keep].astype(np.int64), sequences=seqs,
                       item_ids=np.unique(np.concatenate(seqs)))
