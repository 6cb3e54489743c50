#!/usr/bin/env python3
"""Compares the vectors a `tlearn extract` stored for the dev photos with Keras's end-to-end reference.

  python3 scripts/check_parity.py --db flowers.sqlite [--shared ../shared] [--reference pil|cv2]

The database must hold an extraction of ../shared/data/flower_photos_dev with the shared weights.
Prints the number of photos compared, mean and minimum cosine and the max abs difference; exits 1
when the backbone issue's bounds (mean >= 0.995, min >= 0.98) do not hold.
"""
import argparse, sqlite3, sys
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--db", required=True)
ap.add_argument("--shared", default="../shared")
ap.add_argument("--reference", choices=["pil", "cv2"], default="pil")
ap.add_argument("--backbone", type=int, help="backbones.id, when the database holds several")
a = ap.parse_args()

ref = np.fromfile(f"{a.shared}/reference/dev_embeddings_{a.reference}.f32", "<f4").reshape(-1, 1280)
paths = [line.strip() for line in open(f"{a.shared}/reference/dev_paths.txt")]
db = sqlite3.connect(f"file:{a.db}?mode=ro", uri=True)
backbones = db.execute("SELECT id, preprocessing FROM backbones").fetchall()
if a.backbone is None and len(backbones) != 1:
    sys.exit(f"error: {a.db} holds {len(backbones)} backbones {backbones}: pick one with --backbone")
backbone = a.backbone if a.backbone is not None else backbones[0][0]
rows = db.execute("SELECT path, vector FROM labeled_embeddings WHERE view = 'orig' AND backbone = ?", (backbone,))
stored = {p: np.frombuffer(v, "<f4") for p, v in rows}
missing = [p for p in paths if p not in stored]
if missing:
    sys.exit(f"error: {len(missing)} dev photos have no vector in {a.db}, e.g. {missing[0]}")
x = np.stack([stored[p] for p in paths])
cos = (x * ref).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(ref, axis=1)
print(f"{len(paths)} photos vs dev_embeddings_{a.reference}.f32 (backbone {backbone}): "
      f"mean cosine {cos.mean():.12f}, min {cos.min():.12f}, max abs {np.abs(x - ref).max():.2e}")
sys.exit(0 if cos.mean() >= 0.995 and cos.min() >= 0.98 else 1)
