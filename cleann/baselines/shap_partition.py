"""SHAP Partition explainer over text tokens (optional: needs the ``eval`` extra).

Why SHAP's Text masker: it tokenizes with the model's own tokenizer and builds the
token hierarchy Partition needs, so its features line up with our token positions
([CLS]/[SEP] included, never masked). Masked tokens become the tester's removal token
([PAD], [MASK]; an empty string for deletion), so SHAP removes what CLEANN removes.
"""
from __future__ import annotations

import numpy as np
import torch

from cleann.baselines.base import Attribution, measured
from cleann.baselines.inputs import ModelInput
from cleann.errors import BadInputError

MASK_TEXT = {"pad": "pad_token", "mask": "mask_token", "delete": None}


def require_shap():
    """Import shap or explain how to get it (``pip install 'cleann[eval]'``)."""
    import warnings

    try:
        with warnings.catch_warnings():  # shap's colour maps use soon-deprecated matplotlib calls
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            import shap
    except ImportError:
        raise BadInputError("explainer 'shap' needs the optional package shap, which is not "
                            "installed: pip install 'cleann[eval]'") from None
    return shap


def explain_shap(mi: ModelInput, tokenizer, text: str, removal: str = "pad",
                 max_evals: int = 500, batch_size: int = 64) -> Attribution:
    """SHAP Partition values of the explained class for each token of ``text``.

    ``text`` must be the (possibly truncated) text that produced ``mi``'s tokens; if
    SHAP's tokenization disagrees in length the sample is rejected rather than misaligned.
    """
    shap = require_shap()
    attr_name = MASK_TEXT[removal]
    mask_token = getattr(tokenizer, attr_name) if attr_name else ""
    masker = shap.maskers.Text(tokenizer, mask_token=mask_token, collapse_mask_token=False)
    max_length = mi.length

    def predict(texts) -> np.ndarray:
        enc = tokenizer([str(t) for t in texts], return_tensors="pt", padding=True,
                        truncation=True, max_length=max_length)
        with torch.no_grad():
            return mi.output(mi.model(**enc)).numpy()

    explainer = shap.explainers.Partition(predict, masker)
    with measured(mi.model) as cost:
        values = explainer([text], max_evals=max_evals, batch_size=batch_size, silent=True)
    scores = np.asarray(values.values[0], dtype=np.float32)[:, mi.target]
    if len(scores) != mi.length:
        raise BadInputError(f"SHAP tokenized the text into {len(scores)} tokens, the model "
                            f"input has {mi.length}; cannot align positions")
    return Attribution("shap", mi.candidates, scores=scores, extra={"max_evals": max_evals},
                       **cost)
