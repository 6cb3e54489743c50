#!/usr/bin/env python3
"""The fine-tuning recipe of the issue that asked for `--model finetune`, in Keras, on the folds
`scripts/compare_recipe.py` left in its work directory: a calibration of that script's estimates.

The issue measured this recipe on photos tlearn never saw (91.9%, 92.4% averaging both flips);
scoring it on the same folds as tlearn's recipe says how the cross-validated figures relate to
accuracy on new photos. Per fold: Conv2D(1280, 1) from the backbone's folded Conv_1, ReLU(6),
GlobalAveragePooling2D, Dropout(0.2), Dense; Adam (3e-5), 20 epochs, batch 32, trained on the
fold's train and val maps (orig and hflip), tested on its test images, alone and with the two
views' softmax averaged. Prints one JSON line per fold and the mean and standard deviation.

    pip install tensorflow-cpu numpy
    python3 scripts/compare_recipe.py --images DIR --weights FILE --work WORK
    python3 scripts/keras_recipe_cv.py --work WORK [--lr 3e-5] [--epochs 20] [--threads 2]
"""
import argparse, glob, json, os, sqlite3, time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np


def load(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    bid, h, w, ch, conv1 = c.execute(
        "SELECT backbone_id, map_height, map_width, map_channels, conv1 FROM backbone_tops").fetchone()
    dim = c.execute("SELECT dim FROM backbones WHERE id = ?", (bid,)).fetchone()[0]
    top = np.frombuffer(conv1, "<f4")
    kernel, bias = top[: ch * dim].reshape(1, 1, ch, dim), top[ch * dim:]
    rows = c.execute("""SELECT m.image_id, c.name, i.split, m.view, m.map FROM maps m
                        JOIN images i ON i.id = m.image_id JOIN classes c ON c.id = i.class_id
                        WHERE m.backbone_id = ? ORDER BY m.image_id, m.view""", (bid,)).fetchall()
    classes = sorted({r[1] for r in rows})
    index = {n: k for k, n in enumerate(classes)}

    def arrays(sel):
        x = np.stack([np.frombuffer(r[4], "<f2").astype("float32").reshape(h, w, ch) for r in sel])
        return x, np.array([index[r[1]] for r in sel])

    train = arrays([r for r in rows if r[2] in ("train", "val")])
    test = [r for r in rows if r[2] == "test" and r[3] == "orig"]
    mirror = {r[0]: r for r in rows if r[2] == "test" and r[3] == "hflip"}
    return kernel, bias, classes, train, arrays(test), arrays([mirror[r[0]] for r in test])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True, help="compare_recipe.py's work directory (fold1.sqlite, ...)")
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    import keras

    folds = sorted(glob.glob(os.path.join(a.work, "fold*.sqlite")))
    if not folds:
        raise SystemExit(f"{a.work} has no fold*.sqlite: run scripts/compare_recipe.py --work {a.work} first")
    plain, flipped = [], []
    for k, db in enumerate(folds, 1):
        kernel, bias, classes, (x, y), (xo, yo), (xf, _) = load(db)
        keras.utils.set_random_seed(k)
        conv = keras.layers.Conv2D(kernel.shape[-1], 1, use_bias=True)
        model = keras.Sequential([keras.Input(x.shape[1:]), conv, keras.layers.ReLU(6.0),
                                  keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.2),
                                  keras.layers.Dense(len(classes))])
        conv.set_weights([kernel, bias])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=a.lr),
                      loss=keras.losses.CategoricalCrossentropy(from_logits=True))
        t0 = time.perf_counter()
        model.fit(x, keras.utils.to_categorical(y, len(classes)), batch_size=32, epochs=a.epochs, shuffle=True,
                  verbose=0)
        po = tf.nn.softmax(model.predict(xo, verbose=0)).numpy()
        pf = tf.nn.softmax(model.predict(xf, verbose=0)).numpy()
        plain.append(float((po.argmax(1) == yo).mean()))
        flipped.append(float(((po + pf).argmax(1) == yo).mean()))
        print(json.dumps({"fold": os.path.basename(db), "train_rows": int(len(y)), "test_images": int(len(yo)),
                          "accuracy": round(plain[-1], 4), "accuracy_tta": round(flipped[-1], 4),
                          "fit_seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    print(json.dumps({"lr": a.lr, "epochs": a.epochs, "folds": len(folds),
                      "accuracy": [round(float(np.mean(plain)), 4), round(float(np.std(plain)), 4)],
                      "accuracy_tta": [round(float(np.mean(flipped)), 4), round(float(np.std(flipped)), 4)]}))


if __name__ == "__main__":
    main()
