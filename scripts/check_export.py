#!/usr/bin/env python3
"""Checks `tlearn export` against numpy: vectors.npy, vectors.csv and meta.csv equal the BLOBs read
straight from SQLite, and head.json reproduces `head_predict`. Needs numpy only.

    python3 scripts/check_export.py DB [RUN] [--tlearn .build/debug/tlearn]
"""
import argparse, csv, json, os, sqlite3, subprocess, sys, tempfile
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("db")
ap.add_argument("run", nargs="?", type=int)
ap.add_argument("--tlearn", default=os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "tlearn"))
a = ap.parse_args()

rows = sqlite3.connect(a.db).execute(
    "SELECT image_id, path, label, split, vector FROM labeled_embeddings WHERE view = 'orig' ORDER BY image_id").fetchall()
X = np.stack([np.frombuffer(r[4], dtype="<f4") for r in rows])

with tempfile.TemporaryDirectory() as out:
    for fmt in ("npy", "csv"):
        subprocess.run([a.tlearn, "export", "--db", a.db, "--format", fmt, "--out", out], check=True)
    Y = np.load(os.path.join(out, "vectors.npy"))
    assert Y.dtype == np.float32 and Y.shape == X.shape and np.array_equal(X, Y), "vectors.npy differs from the BLOBs"
    C = np.loadtxt(os.path.join(out, "vectors.csv"), delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
    assert np.array_equal(C, X), "vectors.csv differs from the BLOBs"
    meta = list(csv.DictReader(open(os.path.join(out, "meta.csv"), newline="")))
    assert [(int(m["image_id"]), m["path"], m["label"], m["split"]) for m in meta] == [r[:4] for r in rows], "meta.csv differs"
    print(f"vectors.npy, vectors.csv, meta.csv: {X.shape[0]} x {X.shape[1]} identical to the database")
    if a.run is not None:
        head = os.path.join(out, "head.json")
        subprocess.run([a.tlearn, "export", str(a.run), "--db", a.db, "--out", head], check=True)
        h = json.load(open(head))
        logits = X @ np.array(h["W"], dtype=np.float64) + np.array(h["b"], dtype=np.float64)
        ours = [h["classes"][i] for i in logits.argmax(axis=1)]
        q = subprocess.run([a.tlearn, "query", "--db", a.db, "--json", "--param", str(a.run),
                            "SELECT head_predict(?1, vector) AS p FROM labeled_embeddings WHERE view = 'orig' ORDER BY image_id"],
                           check=True, capture_output=True, text=True)
        theirs = [r["p"] for r in json.loads(q.stdout)]
        same = sum(x == y for x, y in zip(ours, theirs))
        print(f"head.json of run {a.run}: numpy argmax(x W + b) agrees with head_predict on {same}/{len(ours)} images")
        sys.exit(0 if same == len(ours) else 1)
