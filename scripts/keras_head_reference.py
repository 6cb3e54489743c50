#!/usr/bin/env python3
"""Generates fixtures/head/keras_reference.json and keras_finetune_reference.json: what Keras 3
itself does to each model kind tlearn trains, so HeadTests can check tlearn's training step for step
(Adam and SGD update formulas, l2 kernel regularizer, label smoothing, class weights, the per-epoch
running loss).

softmax: a tiny problem (24 rows, dim 6, 3 classes) with given initial W and b, a Dense head.
finetune: 24 maps of 2x2x6, a Conv2D(8, 1) with bias (tlearn's Conv_1 with BatchNorm folded) +
ReLU(6) + GlobalAveragePooling2D + Dense(3), from given initial weights, with pre-activations on
both sides of the clamp. Both are fitted for 2 epochs with batch size 5 (so the last batch is
partial) and shuffle=False; each file holds the data, the initial weights and, per configuration,
Keras's final weights and history["loss"].

    python3 scripts/keras_head_reference.py     (TensorFlow 2.21 / Keras 3.15 made the committed files)
"""
import json, os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras

CONFIGS = [
    {"name": "adam", "optimizer": "adam", "lr": 0.01},
    {"name": "sgd", "optimizer": "sgd", "lr": 0.1},
    {"name": "sgd_nesterov", "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"name": "adam_l2_smoothing_balanced", "optimizer": "adam", "lr": 0.02, "l2": 0.01, "label_smoothing": 0.1, "class_weight": "balanced"},
]

def optimizer(cfg):
    if cfg["optimizer"] == "adam":
        return keras.optimizers.Adam(learning_rate=cfg["lr"])
    return keras.optimizers.SGD(learning_rate=cfg["lr"], momentum=cfg.get("momentum", 0.0), nesterov=cfg.get("nesterov", False))

def class_weights(cfg, y, c):
    if cfg.get("class_weight") != "balanced":
        return None
    counts = np.bincount(y, minlength=c)
    return {k: len(y) / (c * counts[k]) for k in range(c)}

def write(name, out):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "head", name)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))

def finetune():
    rng = np.random.default_rng(1)
    n, h, w, cin, dim, c = 24, 2, 2, 6, 8, 3
    x = (3 * rng.normal(size=(n, h, w, cin))).astype("float32")
    y = np.array([0] * 10 + [1] * 8 + [2] * 6)
    rng.shuffle(y)
    k0 = rng.uniform(-1, 1, size=(1, 1, cin, dim)).astype("float32")
    kb0 = rng.uniform(-1, 1, size=(dim,)).astype("float32")
    w0 = rng.uniform(-0.5, 0.5, size=(dim, c)).astype("float32")
    b0 = rng.uniform(-0.1, 0.1, size=(c,)).astype("float32")
    out = {"x": x.ravel().tolist(), "labels": y.tolist(), "map": [h, w, cin], "dim": dim, "classes": c, "batch_size": 5,
           "epochs": 2, "k0": k0.ravel().tolist(), "kb0": kb0.tolist(), "w0": w0.ravel().tolist(), "b0": b0.tolist(),
           "keras": keras.__version__, "runs": []}
    for cfg in CONFIGS:
        l2 = cfg.get("l2", 0.0)
        conv = keras.layers.Conv2D(dim, 1, use_bias=True)
        dense = keras.layers.Dense(c, kernel_regularizer=keras.regularizers.L2(l2) if l2 else None)
        model = keras.Sequential([keras.Input((h, w, cin)), conv, keras.layers.ReLU(6.0),
                                  keras.layers.GlobalAveragePooling2D(), dense])
        conv.set_weights([k0, kb0])
        dense.set_weights([w0, b0])
        model.compile(optimizer=optimizer(cfg), loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=cfg.get("label_smoothing", 0.0)))
        hist = model.fit(x, keras.utils.to_categorical(y, c), batch_size=5, epochs=2, shuffle=False, verbose=0,
                         class_weight=class_weights(cfg, y, c))
        k, kb = conv.get_weights()
        wf, bf = dense.get_weights()
        out["runs"].append(dict(cfg, k=k.ravel().tolist(), kb=kb.tolist(), w=wf.ravel().tolist(), b=bf.tolist(),
                                loss=[float(v) for v in hist.history["loss"]]))
    write("keras_finetune_reference.json", out)

def main():
    rng = np.random.default_rng(0)
    n, dim, c = 24, 6, 3
    x = rng.normal(size=(n, dim)).astype("float32")
    y = np.array([0] * 11 + [1] * 8 + [2] * 5)
    rng.shuffle(y)
    w0 = rng.uniform(-0.5, 0.5, size=(dim, c)).astype("float32")
    b0 = rng.uniform(-0.1, 0.1, size=(c,)).astype("float32")
    out = {"x": x.ravel().tolist(), "labels": y.tolist(), "dim": dim, "classes": c, "batch_size": 5, "epochs": 2,
           "w0": w0.ravel().tolist(), "b0": b0.tolist(), "keras": keras.__version__, "runs": []}
    for cfg in CONFIGS:
        l2 = cfg.get("l2", 0.0)
        dense = keras.layers.Dense(c, kernel_regularizer=keras.regularizers.L2(l2) if l2 else None)
        model = keras.Sequential([keras.Input((dim,)), dense])
        dense.set_weights([w0, b0])
        opt = (keras.optimizers.Adam(learning_rate=cfg["lr"]) if cfg["optimizer"] == "adam"
               else keras.optimizers.SGD(learning_rate=cfg["lr"], momentum=cfg.get("momentum", 0.0), nesterov=cfg.get("nesterov", False)))
        model.compile(optimizer=opt, loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.get("label_smoothing", 0.0)))
        cw = None
        if cfg.get("class_weight") == "balanced":
            counts = np.bincount(y, minlength=c)
            cw = {k: n / (c * counts[k]) for k in range(c)}
        hist = model.fit(x, keras.utils.to_categorical(y, c), batch_size=5, epochs=2, shuffle=False, verbose=0, class_weight=cw)
        w, b = dense.get_weights()
        out["runs"].append(dict(cfg, w=w.ravel().tolist(), b=b.tolist(), loss=[float(v) for v in hist.history["loss"]]))
    write("keras_reference.json", out)
    finetune()

if __name__ == "__main__":
    main()
