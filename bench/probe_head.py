"""A stand-in trained classifier for benchmarks while the default model is not cached.

Pretrained MiniLM + a logistic-regression head on its pooled outputs of 3,000 training
rt_snippets (seeded), saved as a normal checkpoint. Why: timing and verdict checks need
a real decision boundary (a fresh random head puts every logit near 0).

Usage: .venv/bin/python bench/probe_head.py [OUT_DIR]   (default /tmp/probe-minilm)
"""
import torch, numpy as np
from sklearn.linear_model import LogisticRegression
from cleann.sources.artifacts import minilm_dir
from cleann.sources.text import load_offline
from cleann.models.sentiment import load_classifier
torch.set_num_threads(1)
torch.manual_seed(0)
model, tok = load_classifier(minilm_dir(), allow_new_head=True, num_labels=2)
df = load_offline("rt_snippets"); tr = df[df.split == "train"].sample(3000, random_state=0)
feats = []
with torch.inference_mode():
    for s in range(0, len(tr), 64):
        enc = tok(tr.text.iloc[s:s+64].tolist(), padding=True, truncation=True, max_length=64, return_tensors="pt")
        feats.append(model.bert(**enc).pooler_output.numpy())
X = np.concatenate(feats); y = tr.label.to_numpy()
clf = LogisticRegression(C=10.0, max_iter=2000).fit(X, y)
print("train acc", clf.score(X, y))
with torch.no_grad():
    model.classifier.weight.copy_(torch.tensor(np.stack([-clf.coef_[0] / 2, clf.coef_[0] / 2]), dtype=torch.float32))
    model.classifier.bias.copy_(torch.tensor([-clf.intercept_[0] / 2, clf.intercept_[0] / 2], dtype=torch.float32))
import sys
out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/probe-minilm"
model.save_pretrained(out, safe_serialization=True)
tok.save_pretrained(out)
te = df[df.split == "test"].head(300)
from cleann.models.sentiment import infer
res = infer(model, tok, te.text.tolist(), max_length=128)
print("test acc", np.mean([r.pred == l for r, l in zip(res, te.label)]))
