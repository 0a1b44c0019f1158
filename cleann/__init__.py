"""cleann: causal explanations of transformer decisions (CLEANN) across whole corpora."""

__version__ = "0.1.0"
