#!/usr/bin/env python3
"""Keras `fit` of the finetune model on a tlearn database's cached maps: the peer of
`tlearn train-head --model finetune` in `tlearn-bench --section finetune`.

The model is what tlearn trains: Conv2D(1280, 1) with bias, initialised from the backbone's folded
Conv_1 (table backbone_tops), ReLU(6), GlobalAveragePooling2D, Dropout, Dense(classes); Adam,
CategoricalCrossentropy(from_logits=True), batch 32, shuffled, on the train split's maps of the
given views. Prints one JSON line: fit seconds (the training alone: no imports, no loading), and
the val accuracy after the last epoch.

    pip install tensorflow-cpu numpy
    python3 scripts/keras_finetune_bench.py DB [--epochs 20] [--lr 1e-4] [--dropout 0.2] [--views orig,hflip] [--threads 2]
"""
import argparse, json, os, sqlite3, time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def load(db, views):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    import numpy as np
    bid, h, w, ch, conv1 = c.execute("SELECT backbone_id, map_height, map_width, map_channels, conv1 FROM backbone_tops").fetchone()
    dim = c.execute("SELECT dim FROM backbones WHERE id = ?", (bid,)).fetchone()[0]
    top = np.frombuffer(conv1, "<f4")
    kernel, bias = top[: ch * dim].reshape(1, 1, ch, dim), top[ch * dim:]
    rows = c.execute("""SELECT c.name, i.split, m.view, m.map FROM maps m JOIN images i ON i.id = m.image_id
                        JOIN classes c ON c.id = i.class_id WHERE m.backbone_id = ? ORDER BY m.image_id, m.view""", (bid,)).fetchall()
    classes = sorted({r[0] for r in rows})
    index = {n: k for k, n in enumerate(classes)}
    def part(split, vs):
        sel = [r for r in rows if r[1] == split and r[2] in vs]
        x = np.stack([np.frombuffer(r[3], "<f2").astype("float32").reshape(h, w, ch) for r in sel])
        return x, np.array([index[r[0]] for r in sel])
    return kernel, bias, classes, part("train", views), part("val", ["orig"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--views", default="orig,hflip")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    import keras
    kernel, bias, classes, (x, y), (xv, yv) = load(a.db, a.views.split(","))
    conv = keras.layers.Conv2D(kernel.shape[-1], 1, use_bias=True)
    model = keras.Sequential([keras.Input(x.shape[1:]), conv, keras.layers.ReLU(6.0), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dropout(a.dropout), keras.layers.Dense(len(classes))])
    conv.set_weights([kernel, bias])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=a.lr),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x, keras.utils.to_categorical(y, len(classes)), batch_size=32, epochs=a.epochs, shuffle=True, verbose=0)
    seconds = time.perf_counter() - t0
    val = float((model.predict(xv, verbose=0).argmax(1) == yv).mean()) if len(yv) else None
    print(json.dumps({"peer": "keras " + keras.__version__, "rows": int(len(y)), "epochs": a.epochs, "fit_seconds": round(seconds, 2),
                      "val_accuracy": val}))


if __name__ == "__main__":
    main()
