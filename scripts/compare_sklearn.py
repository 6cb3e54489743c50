#!/usr/bin/env python3
"""Side by side: scikit-learn LogisticRegression (C=1.0, lbfgs, max_iter 1000) fitted on the
train split of a tlearn database, and `tlearn train-head --json` on the same vectors and split.

    python3 scripts/compare_sklearn.py --db FILE [--tlearn .build/release/tlearn] [--backbone ID] [-- extra train-head args]

Reads the original-view vectors with sqlite3/numpy exactly as tlearn does (one backbone; classes
in sorted order), prints both test accuracies and timings. The train-head run is saved in FILE.
"""
import argparse, json, os, sqlite3, subprocess, sys, time

import numpy as np

def load(db_path, backbone):
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    backbones = [r[0] for r in db.execute("SELECT DISTINCT backbone_id FROM embeddings ORDER BY 1")]
    if not backbones:
        sys.exit(f"error: {db_path} has no embeddings")
    if backbone is None:
        if len(backbones) > 1:
            sys.exit(f"error: {db_path} holds vectors of backbones {backbones}; choose one with --backbone")
        backbone = backbones[0]
    rows = db.execute("""SELECT c.name, i.split, e.vector FROM embeddings e JOIN images i ON i.id = e.image_id
                         JOIN classes c ON c.id = i.class_id WHERE e.backbone_id = ? AND e.view = 'orig'
                         ORDER BY e.image_id""", (backbone,)).fetchall()
    classes = sorted({r[0] for r in rows})
    y = np.array([classes.index(r[0]) for r in rows])
    split = np.array([r[1] for r in rows])
    x = np.stack([np.frombuffer(r[2], dtype="<f4") for r in rows])
    return x, y, split, classes, backbone

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", required=True)
    p.add_argument("--backbone", type=int)
    p.add_argument("--tlearn", default=os.path.join(here, "..", ".build", "release", "tlearn"))
    p.add_argument("extra", nargs="*", help="extra train-head arguments (after --)")
    a = p.parse_args()
    from sklearn.linear_model import LogisticRegression

    x, y, split, classes, backbone = load(a.db, a.backbone)
    tr, te = split == "train", split == "test"
    t0 = time.perf_counter()
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(x[tr], y[tr])
    fit = time.perf_counter() - t0
    sk_acc = float((clf.predict(x[te]) == y[te]).mean())

    cmd = [a.tlearn, "train-head", "--db", a.db, "--json", "--backbone", str(backbone)] + a.extra
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed: {out.stderr.strip()}")
    r = json.loads(out.stdout)
    print(f"{a.db}: {x.shape[0]} vectors of dim {x.shape[1]}, {len(classes)} classes; train {tr.sum()}, val {(split == 'val').sum()}, test {te.sum()}")
    print(f"{'':34s} {'test acc':>9s} {'time':>9s}")
    print(f"{'sklearn LogisticRegression (lbfgs)':34s} {sk_acc:9.4f} {fit:8.3f}s  (fit only, {clf.n_iter_[0]} iterations)")
    label = "tlearn train-head " + (" ".join(a.extra) if a.extra else "(defaults)")
    print(f"{label[:34]:34s} {r['test_accuracy']:9.4f} {wall:8.3f}s  (whole process; training {r['seconds']:.3f}s; run {r['run_id']})")
    diff = r["test_accuracy"] - sk_acc
    print(f"difference: {diff * 100:+.2f} points ({round(diff * te.sum()):+d} of {te.sum()} test images)")

if __name__ == "__main__":
    main()
