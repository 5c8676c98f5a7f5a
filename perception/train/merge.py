"""Concatenates datasets written by `minesim dataset`: merge.py A B ... OUT."""
import os
import sys

import numpy as np

*parts, out = sys.argv[1:]
os.makedirs(out, exist_ok=True)
np.save(os.path.join(out, "bev.npy"), np.concatenate([np.load(os.path.join(p, "bev.npy")) for p in parts]))
with open(os.path.join(out, "labels.jsonl"), "w") as f:
    for p in parts:
        with open(os.path.join(p, "labels.jsonl")) as g:
            f.write(g.read())
