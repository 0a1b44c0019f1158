"""Model inputs for the gradient explainers of :mod:`cleann.explainers` (text and BERT4Rec)."""
