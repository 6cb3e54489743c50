#!/usr/bin/env python3
"""Builds a tlearn database from the Keras reference embeddings of the dev photos, without
running the Swift extractor: ../shared/reference/dev_embeddings_pil.f32 (1837 x 1280 float32,
rows in the order of dev_paths.txt, class = folder).

Splits follow tlearn's rule (README.md): SHA-256 of the path relative to the dataset root,
first 8 bytes big-endian mod 10000; below val*100 -> val, below (val+test)*100 -> test, else train
(the per-class fill for empty splits never triggers on these photos; the script checks it).

    python3 scripts/db_from_reference.py --out /tmp/dev.sqlite [--shared ../shared] [--val 10 --test 10]
"""
import argparse, hashlib, os, sqlite3, sys

import numpy as np

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="database to create (must not exist)")
    p.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
    p.add_argument("--embeddings", default="dev_embeddings_pil.f32", help="file in shared/reference/")
    p.add_argument("--val", type=float, default=10.0)
    p.add_argument("--test", type=float, default=10.0)
    a = p.parse_args()
    if os.path.exists(a.out):
        sys.exit(f"error: {a.out} exists; remove it first")
    ref = os.path.join(a.shared, "reference")
    paths = open(os.path.join(ref, "dev_paths.txt")).read().split()
    vectors = np.fromfile(os.path.join(ref, a.embeddings), dtype="<f4").reshape(len(paths), 1280)
    photos = os.path.join(a.shared, "data", "flower_photos_dev")
    weights = os.path.join(a.shared, "weights", "mnv2_no_top_keras3.h5")

    db = sqlite3.connect(a.out)
    db.executescript(open(os.path.join(here, "..", "schema.sql")).read())
    db.execute("PRAGMA journal_mode = WAL")
    wsha = hashlib.sha256(open(weights, "rb").read()).hexdigest()
    prep = "pillow-bilinear;x/127.5-1" if "pil" in a.embeddings else "opencv-linear;x/127.5-1"
    db.execute("INSERT INTO backbones (weights_sha256, alpha, input_size, preprocessing, dim, weights_name) VALUES (?, 1.0, 224, ?, 1280, ?)",
               (wsha, prep, os.path.basename(weights)))
    backbone = db.execute("SELECT last_insert_rowid()").fetchone()[0]
    classes = sorted({q.split("/")[0] for q in paths})
    db.executemany("INSERT INTO classes (id, name) VALUES (?, ?)", [(i + 1, c) for i, c in enumerate(classes)])
    counts = {}
    for i, rel in enumerate(paths):
        key = int.from_bytes(hashlib.sha256(rel.encode()).digest()[:8], "big") % 10000
        split = "val" if key < a.val * 100 else "test" if key < (a.val + a.test) * 100 else "train"
        cls = rel.split("/")[0]
        counts.setdefault(cls, {"train": 0, "val": 0, "test": 0})[split] += 1
        data = open(os.path.join(photos, rel), "rb").read()
        db.execute("INSERT INTO images (id, path, class_id, sha256, bytes, split) VALUES (?, ?, ?, ?, ?, ?)",
                   (i + 1, rel, classes.index(cls) + 1, hashlib.sha256(data).hexdigest(), len(data), split))
        db.execute("INSERT INTO embeddings (image_id, backbone_id, view, vector) VALUES (?, ?, 'orig', ?)",
                   (i + 1, backbone, vectors[i].astype("<f4").tobytes()))
    db.commit()
    for cls, c in sorted(counts.items()):
        if min(c.values()) == 0:
            sys.exit(f"error: class {cls} has an empty split {c}: the per-class fill rule would move images")
        print(f"{cls:12s} train {c['train']:4d}  val {c['val']:3d}  test {c['test']:3d}")
    print(f"wrote {a.out}: {len(paths)} vectors of backbone {backbone}")

if __name__ == "__main__":
    main()
