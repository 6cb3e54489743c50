#!/usr/bin/env python3
"""Cross-validates the README's training recipe on a folder of labelled photos and prints it beside
scikit-learn on the same vectors: the measurement behind tlearn's defaults.

The photos are extracted once (`tlearn extract --views orig,hflip --maps`). Each of K stratified folds
is then the test split of a copy of that database, the other images being train and val (val: 10% of
each class, by a fixed shuffle), and on every copy:
  recipe          tlearn sweep (default grid), then tlearn evaluate best --tta
  softmax only    tlearn sweep --model softmax, then evaluate best --tta
  finetune only   tlearn sweep --model finetune, then evaluate best --tta
  sklearn C=1     LogisticRegression() on train+val vectors (orig+hflip rows), test probabilities
                  averaged over the two views (as --tta does)
  sklearn CV      LogisticRegressionCV(Cs=10, cv=5) on the same rows, its C chosen by its own CV
Prints each pipeline's mean and standard deviation of the K test accuracies, and every fold.

    pip install numpy scikit-learn
    python3 scripts/compare_recipe.py --images DIR --weights FILE [--folds 5] [--work DIR] [--tlearn .build/release/tlearn]
"""
import argparse, json, os, shutil, sqlite3, subprocess, sys, time, warnings

import numpy as np


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode not in (0, 3):
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def assign(db, folds, k, seed=0):
    """Fold k is test; of the rest, 10% of each class is val. The same shuffle for every k."""
    c = sqlite3.connect(db)
    rows = c.execute("SELECT i.id, c.name FROM images i JOIN classes c ON c.id = i.class_id ORDER BY i.id").fetchall()
    rng = np.random.default_rng(seed)
    by_class = {}
    for image, label in rows:
        by_class.setdefault(label, []).append(image)
    split = {}
    for label in sorted(by_class):
        ids = np.array(by_class[label])
        rng.shuffle(ids)
        fold = {int(i): j % folds for j, i in enumerate(ids)}
        rest = [i for i in ids if fold[int(i)] != k]
        n_val = max(1, round(0.1 * len(rest)))
        for i in ids:
            split[int(i)] = "test" if fold[int(i)] == k else "train"
        for i in rest[:n_val]:
            split[int(i)] = "val"
    c.executemany("UPDATE images SET split = ? WHERE id = ?", [(s, i) for i, s in split.items()])
    c.commit()
    c.close()


def vectors(db):
    c = sqlite3.connect(db)
    rows = c.execute("""SELECT e.image_id, c.name, i.split, e.view, e.vector FROM embeddings e
                        JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id ORDER BY e.image_id, e.view""").fetchall()
    c.close()
    return rows


def sklearn_scores(db):
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn's notices of future defaults
    rows = vectors(db)
    classes = sorted({r[1] for r in rows})
    index = {n: k for k, n in enumerate(classes)}
    train = [r for r in rows if r[2] in ("train", "val")]
    x = np.stack([np.frombuffer(r[4], "<f4") for r in train])
    y = np.array([index[r[1]] for r in train])
    test = {}
    for r in rows:
        if r[2] == "test":
            test.setdefault(r[0], {})[r[3]] = (index[r[1]], np.frombuffer(r[4], "<f4"))
    ids = [i for i in sorted(test) if "orig" in test[i] and "hflip" in test[i]]
    yt = np.array([test[i]["orig"][0] for i in ids])
    xo = np.stack([test[i]["orig"][1] for i in ids])
    xf = np.stack([test[i]["hflip"][1] for i in ids])
    out = {}
    for name, model in [("sklearn C=1", LogisticRegression(max_iter=2000)),
                        ("sklearn CV", LogisticRegressionCV(Cs=10, cv=5, max_iter=2000))]:
        model.fit(x, y)
        p = (model.predict_proba(xo) + model.predict_proba(xf)) / 2
        out[name] = float((p.argmax(1) == yt).mean())
    return out


def tlearn_score(tlearn, db, sweep_args):
    run([tlearn, "sweep", "--db", db, "--json"] + sweep_args)
    r = run([tlearn, "evaluate", "best", "--db", db, "--tta", "--json"])
    return json.loads(r.stdout)["accuracy"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--work", default="/tmp/tlearn-recipe")
    p.add_argument("--tlearn", default=".build/release/tlearn")
    p.add_argument("--sweep", default="", help="extra arguments for the recipe's sweep, e.g. '--jobs 2'")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    base = os.path.join(a.work, "base.sqlite")
    t0 = time.time()
    run([a.tlearn, "extract", "--images", a.images, "--weights", a.weights, "--db", base, "--views", "orig,hflip", "--maps", "--quiet"])
    sqlite3.connect(base).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    print(f"extracted {a.images} into {base} ({time.time() - t0:.0f} s)", flush=True)
    names = ["recipe", "softmax only", "finetune only", "sklearn C=1", "sklearn CV"]
    scores = {n: [] for n in names}
    for k in range(a.folds):
        db = os.path.join(a.work, f"fold{k + 1}.sqlite")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        shutil.copy(base, db)
        assign(db, a.folds, k)
        t0 = time.time()
        scores["recipe"].append(tlearn_score(a.tlearn, db, a.sweep.split()))
        recipe_s = time.time() - t0
        scores["softmax only"].append(tlearn_score(a.tlearn, db, ["--model", "softmax"] + a.sweep.split()))
        scores["finetune only"].append(tlearn_score(a.tlearn, db, ["--model", "finetune"] + a.sweep.split()))
        for n, v in sklearn_scores(db).items():
            scores[n].append(v)
        print(f"fold {k + 1}: " + ", ".join(f"{n} {scores[n][-1]:.4f}" for n in names) + f"  (recipe {recipe_s:.0f} s)", flush=True)
    print(f"\n{a.folds}-fold cross-validated test accuracy on {a.images} (mean ± std over folds):")
    for n in names:
        v = np.array(scores[n])
        print(f"  {n:14s} {v.mean():.4f} ± {v.std():.4f}   folds " + " ".join(f"{x:.4f}" for x in v))


if __name__ == "__main__":
    main()
