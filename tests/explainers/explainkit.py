"""Helpers shared by the explainer tests (imported as ``explainkit``)."""
from __future__ import annotations

import numpy as np


def text_sample(backend, text: str, removal: str = "pad"):
    from cleann.explainers.samples import sample_from_view

    (view,) = backend.infer([text], 1, 64)
    return sample_from_view("s", view, backend, removal, text)


def rec_sample(backend, history):
    from cleann.explainers.samples import sample_from_view

    (view,) = backend.infer([np.asarray(history)], 1, 64)
    return sample_from_view("u", view, backend)
