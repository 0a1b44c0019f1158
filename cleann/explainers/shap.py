"""SHAP Partition explainer over text tokens (optional: needs the ``eval`` extra).

Why SHAP's Text masker: it tokenizes with the model's own tokenizer and builds the
token hierarchy Partition needs, so its features line up with our token positions
([CLS]/[SEP] included, never masked). Masked tokens become the tester's removal token
([PAD], [MASK]; an empty string for deletion), so SHAP removes what CLEANN removes.
"""
from __future__ import annotations

import numpy as np
import torch

from cleann.errors import BadInputError
from cleann.explainers.base import Cost, Explainer, Explanation, Sample
from cleann.explainers.counting import model_work

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


class ShapPartition(Explainer):
    """SHAP Partition values of the explained class for each token of ``sample.text``.

    ``sample.text`` must be the (possibly truncated) text that produced the model input's
    tokens; if SHAP's tokenization disagrees in length the sample is rejected rather than
    misaligned.
    """

    name = "shap"
    kinds = ("text",)

    def __init__(self, max_evals: int = 500, batch_size: int = 64) -> None:
        self.shap = require_shap()  # imported here: explain() times only the method
        self.max_evals, self.batch_size = int(max_evals), int(batch_size)

    def _explain(self, sample: Sample) -> Explanation:
        shap = self.shap
        mi = sample.get_model_input()
        tokenizer = mi.tokenizer
        if tokenizer is None or sample.text is None:
            raise BadInputError("explainer 'shap' needs the tokenizer and the sample text")
        attr_name = MASK_TEXT[mi.removal]
        mask_token = getattr(tokenizer, attr_name) if attr_name else ""
        masker = shap.maskers.Text(tokenizer, mask_token=mask_token, collapse_mask_token=False)
        max_length = mi.length
        device = mi.input_ids.device

        def predict(texts) -> np.ndarray:
            enc = tokenizer([str(t) for t in texts], return_tensors="pt", padding=True,
                            truncation=True, max_length=max_length).to(device)
            with torch.no_grad():
                return mi.output(mi.model(**enc)).cpu().numpy()

        method = shap.explainers.Partition(predict, masker)
        with model_work(mi.model) as work:
            values = method([sample.text], max_evals=self.max_evals, batch_size=self.batch_size, silent=True)
        scores = np.asarray(values.values[0], dtype=np.float32)[:, mi.target]
        if len(scores) != mi.length:
            raise BadInputError(f"SHAP tokenized the text into {len(scores)} tokens, the model "
                                f"input has {mi.length}; cannot align positions")
        return Explanation(self.name, mi.candidates, scores=scores,
                           cost=Cost(model_seconds=work.seconds, forward_rows=work.forward_rows))
