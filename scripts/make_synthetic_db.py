#!/usr/bin/env python3
"""A valid tlearn database of N synthetic images, for scale tests and `tlearn-bench --section scale`.

    python3 scripts/make_synthetic_db.py --n 1000000 --out /tmp/synthetic-1m.sqlite

What it holds (schema.sql, written with plain sqlite3, independently of tlearn's code):
- `--classes` classes (default 100), named class000, class001, ...; N images spread round-robin,
  paths `classNNN/img0000123.jpg`, sha256 of the path (there are no files), bytes 0;
- one backbone (dim 1280 by default, `weights_sha256` 'synthetic'), one `orig` vector per image:
  ReLU6 of a Gaussian mixture (class centre + noise, clipped to [0, 6]) as little-endian float32
  BLOBs, like MobileNetV2's pooled ReLU6 features;
- splits by the README's rule (Sources/Store/Split.swift): the first 8 bytes of sha256(path)
  big-endian mod 10000, val below 1000, test below 2000, then the per-class minimums;
- planted near-copies: `--planted` pairs (default N / 1000) of a train image and a val/test image
  of the same class whose vectors have cosine about 0.995 (leaks), and a tenth as many pairs within
  train (not leaks). They are listed in OUT.planted.csv (image_id_a, image_id_b, leak, cosine), so
  the recall of `tlearn duplicates` can be measured.

The same --n, --seed and --classes give the same database bit for bit. 1,000,000 images take a few
minutes and about 5.3 GB.
"""

import argparse
import hashlib
import os
import sqlite3
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def split_key(path):
    """The README's split key: first 8 bytes of sha256(path), big-endian, mod 10000."""
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big") % 10000


def assign_splits(members, val_bp=1000, test_bp=1000):
    """Split.swift's SplitPolicy.assign: members is [(path, key)], returns {path: split}."""
    result, by = {}, {"train": [], "val": [], "test": []}
    for path, key in members:
        s = "val" if key < val_bp else "test" if key < val_bp + test_bp else "train"
        result[path] = s
        by[s].append((key, path))
    n = len(members)
    required = ["train"] if n >= 1 else []
    if n >= 3:
        required += (["val"] if val_bp > 0 else []) + (["test"] if test_bp > 0 else [])
    order = ["train", "val", "test"]
    for target in required:
        if by[target]:
            continue
        others = [s for s in order if s != target]
        # Largest other split; equal counts: the earlier one in train, val, test order.
        donor = max(others, key=lambda s: (len(by[s]), -order.index(s)))
        if not by[donor]:
            continue
        pick = min(by[donor])
        by[donor].remove(pick)
        by[target].append(pick)
        result[pick[1]] = target
    return result


def relu6_vectors(rng, centres, classes_of_rows, noise):
    x = centres[classes_of_rows] + rng.standard_normal((len(classes_of_rows), centres.shape[1]), dtype=np.float32) * noise
    np.clip(x, 0, 6, out=x)
    return x


def near_copy(rng, v, noise):
    """A vector with cosine about 0.995 to v (a re-encoding of the same photo)."""
    c = v * (1 + rng.standard_normal(v.shape, dtype=np.float32) * noise) + rng.standard_normal(v.shape, dtype=np.float32) * noise * 0.1
    return np.clip(c, 0, 6).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, required=True, help="images")
    ap.add_argument("--out", required=True, help="database to create (must not exist)")
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--planted", type=int, default=None, help="cross-split near-copy pairs (default n/1000, at least 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", type=float, default=1.0, help="within-class spread (class centres are N(0.4, 1))")
    ap.add_argument("--copy-noise", default="0.08",
                    help="relative noise of a planted copy: one value (0.08: cosine about 0.996), or LOW:HIGH spread "
                         "evenly over the pairs (0.02:0.3 gives cosines from about 0.95 to 0.9997, to measure recall near a threshold)")
    args = ap.parse_args()
    if args.n < 2 * args.classes:
        sys.exit(f"error: --n {args.n} must be at least twice --classes {args.classes}")
    if os.path.exists(args.out):
        sys.exit(f"error: {args.out} exists; choose a new file")
    planted = args.planted if args.planted is not None else max(10, args.n // 1000)
    low, _, high = args.copy_noise.partition(":")
    noise_low, noise_high = float(low), float(high or low)
    t0 = time.time()
    rng = np.random.default_rng(args.seed)
    n, dim, nc = args.n, args.dim, args.classes

    names = [f"class{c:03d}" for c in range(nc)]
    cls = np.arange(n) % nc
    paths = [f"{names[c]}/img{i + 1:07d}.jpg" for i, c in enumerate(cls)]
    keys = [split_key(p) for p in paths]
    splits = {}
    for c in range(nc):
        rows = range(c, n, nc)
        splits.update(assign_splits([(paths[i], keys[i]) for i in rows]))
    split = [splits[p] for p in paths]

    # Planted pairs: (a, b) rows; b's vector becomes a near copy of a's. Cross-split pairs join a
    # train image to a val/test image of the same class; a tenth as many pairs stay within train.
    prng = np.random.default_rng(args.seed + 1)
    train_rows = [i for i in range(n) if split[i] == "train"]
    held_rows = [i for i in range(n) if split[i] != "train"]
    used, pairs = set(), []

    by_class_train = {c: [i for i in train_rows if cls[i] == c] for c in range(nc)}
    by_class_held = {c: [i for i in held_rows if cls[i] == c] for c in range(nc)}
    for p in range(planted + max(1, planted // 10)):
        for _ in range(1000):
            c = int(prng.integers(nc))
            free_a = [i for i in by_class_train[c][:64] if i not in used]
            if not free_a:
                continue
            a = free_a[int(prng.integers(len(free_a)))]
            pool_b = by_class_held[c] if p < planted else by_class_train[c]
            free_b = [i for i in pool_b[:64] if i not in used and i != a]
            if free_b:
                break
        else:
            sys.exit(f"error: cannot plant {p + 1} pairs among {n} images; lower --planted")
        b = free_b[int(prng.integers(len(free_b)))]
        used.update((a, b))
        pairs.append((min(a, b), max(a, b), a))
    copy_of = {(b if a == src else a): src for a, b, src in pairs}  # target row -> source row

    db = sqlite3.connect(args.out)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    with open(os.path.join(REPO, "schema.sql")) as f:
        db.executescript(f.read())
    db.execute("BEGIN")
    db.executemany("INSERT INTO classes(id, name) VALUES (?, ?)", [(c + 1, names[c]) for c in range(nc)])
    db.execute("INSERT INTO backbones(id, weights_sha256, alpha, input_size, preprocessing, dim, weights_name) "
               "VALUES (1, 'synthetic', 1.0, 224, 'synthetic-relu6-mixture', ?, 'synthetic')", (dim,))
    db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)",
                   [("root", "synthetic"), ("val_percent", "10.0"), ("test_percent", "10.0")])
    db.executemany(
        "INSERT INTO images(id, path, class_id, sha256, bytes, width, height, split, added_at) "
        "VALUES (?, ?, ?, ?, 0, 224, 224, ?, '2026-01-01T00:00:00.000Z')",
        ((i + 1, paths[i], int(cls[i]) + 1, hashlib.sha256(paths[i].encode()).hexdigest(), split[i]) for i in range(n)))

    centres = (rng.standard_normal((nc, dim), dtype=np.float32) + np.float32(0.4)).astype(np.float32)
    chunk = 20000
    source_vectors = {}
    sources = set(copy_of.values())
    vec_rows = []
    for start in range(0, n, chunk):
        rows = np.arange(start, min(n, start + chunk))
        x = relu6_vectors(rng, centres, cls[rows], np.float32(args.noise))
        for r in rows:
            if r in sources:
                source_vectors[r] = x[r - start].copy()
        vec_rows.append((rows, x))
        if len(vec_rows) * chunk >= 100000 or start + chunk >= n:
            for rws, xs in vec_rows:
                db.executemany("INSERT INTO embeddings(id, image_id, backbone_id, view, vector) VALUES (?, ?, 1, 'orig', ?)",
                               ((int(r) + 1, int(r) + 1, xs[k].astype("<f4").tobytes()) for k, r in enumerate(rws)))
            vec_rows = []
            print(f"make_synthetic_db: {min(n, start + chunk)}/{n} vectors, {time.time() - t0:.0f} s", file=sys.stderr)
    # Second pass for the copies: their sources may come later in the file than they do.
    crng = np.random.default_rng(args.seed + 2)
    planted_rows = []
    for k, (a, b, src) in enumerate(pairs):
        target = b if a == src else a
        noise = noise_low + (noise_high - noise_low) * k / max(1, len(pairs) - 1)
        v = near_copy(crng, source_vectors[src], np.float32(noise))
        db.execute("UPDATE embeddings SET vector = ? WHERE image_id = ?", (v.astype("<f4").tobytes(), target + 1))
        s = source_vectors[src].astype(np.float64)
        cos = float(v.astype(np.float64) @ s / np.sqrt((v.astype(np.float64) @ v) * (s @ s)))
        planted_rows.append((a + 1, b + 1, int(split[a] != split[b]), cos))
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    with open(args.out + ".planted.csv", "w") as f:
        f.write("image_id_a,image_id_b,leak,cosine\n")
        for row in sorted(planted_rows):
            f.write("%d,%d,%d,%.17g\n" % row)
    cosines = [r[3] for r in planted_rows]
    print(f"make_synthetic_db: {n} images, {nc} classes, dim {dim}, {len(planted_rows)} planted pairs "
          f"(cosine {min(cosines):.4f}-{max(cosines):.4f}), {os.path.getsize(args.out) / 2**30:.2f} GB in {time.time() - t0:.0f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
