#!/usr/bin/env python3
"""Checks `tlearn export RUN --format keras` with Keras itself: `keras.models.load_model` opens the archive
without custom objects and computes what tlearn computes. Opt-in (TensorFlow is large):

    pip install tensorflow-cpu numpy        (Keras 3 comes with TensorFlow >= 2.16)
    python3 scripts/check_keras_export.py --db DB --run RUN --weights FILE.h5 [--tlearn .build/debug/tlearn]
        [IMAGE ...] [--split test --images-root DIR]
        [--reference-inputs inputs_16.f32] [--tflite]
    python3 scripts/check_keras_export.py compare --keras M.keras --onnx M.onnx   (also needs onnxruntime)

Default mode: the same comparisons as check_onnx_export.py (which see), with the model loaded by
`keras.models.load_model`: `probabilities` are `model.predict`, `embedding` the output of its
`global_average_pooling2d` layer (a finetune run's checked from its `block_16_project_BN` layer's maps). With --tflite, the loaded model also goes through
`tf.lite.TFLiteConverter.from_keras_model` and the TFLite interpreter's probabilities are compared the same way.
compare mode (used by the Swift tests for the finetune kind): the .keras and the .onnx of one classifier
agree on seeded random inputs.

Prints one line per comparison; exits 1 when any bound fails.
"""
import argparse, os, sys, tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# On the JAX backend, XLA may drop a float32 -> float16 -> float32 round trip as "excess precision", and with
# it the float16 rounding of a finetune model's maps (its block_16_maps_float16 layer); keep it.
os.environ.setdefault("XLA_FLAGS", "--xla_allow_excess_precision=false")
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_onnx_export import (BATCH, MAPS, check_reference, compare, compare_with_tlearn, run_arguments,  # noqa: E402
                               run_images, tlearn_outputs, tool, tuned_conv1)


def keras_model(path):
    """The loaded model, and a function of inputs giving its probabilities, embedding and MAPS."""
    import keras
    model = keras.models.load_model(path)   # no custom_objects: every layer is Keras's own
    outputs = keras.Model(model.inputs, [model.outputs[0], model.get_layer("global_average_pooling2d").output,
                                         model.get_layer(MAPS).output])

    def run(x):
        parts = [outputs.predict(x[i:i + BATCH], verbose=0) for i in range(0, len(x), BATCH)]
        return tuple(np.concatenate([part[k] for part in parts]) for k in range(3))
    return model, run


def tflite_predict(model):
    """The model through TFLiteConverter.from_keras_model, as a function of the inputs."""
    import contextlib, io
    import tensorflow as tf
    with contextlib.redirect_stdout(io.StringIO()):   # the converter lists every captured variable
        flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def run(x):
        interpreter.resize_tensor_input(inp["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])
    return run


def check_run(args):
    import json, zipfile
    size, exact, images = run_images(args)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        tool(args, "export", str(args.run), "--db", args.db, "--weights", args.weights, "--format", "keras", "--out", path)
        meta = json.loads(zipfile.ZipFile(path).read("metadata.json"))["tlearn"]
        classes = meta["classes"]
        conv1 = tuned_conv1(args, tmp)
        model, run = keras_model(path)
        print(f"ok    keras.models.load_model: run {args.run}, {meta['model']}, alpha {meta['alpha']}, input {size}, "
              f"{len(classes)} classes, {len(model.layers)} layers")
        lite = tflite_predict(model) if args.tflite else None
        if images:
            x, e_ref, p_ref = tlearn_outputs(args, images, size, exact, classes, tmp)
            ok &= compare_with_tlearn(args, "keras vs tlearn predict", run, x, e_ref, p_ref, conv1)
            if lite:
                ok &= compare("tflite (from_keras_model) vs tlearn predict", lite(x), None, p_ref, None,
                              args.atol, args.embedding_atol)
        if args.reference_inputs:
            ok &= check_reference(args, size, exact, classes, tmp, run, conv1)
    return ok


def check_compare(args):
    import onnxruntime as ort
    _, run = keras_model(args.keras)
    sess = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    size = sess.get_inputs()[0].shape[1]
    x = np.random.default_rng(5).integers(0, 256, (3, size, size, 3)).astype(np.float32) / np.float32(127.5) - np.float32(1)
    p, e = sess.run(["probabilities", "embedding"], {"image": x})
    pk, ek, _ = run(x)
    return compare(f"keras {os.path.basename(args.keras)} vs onnx {os.path.basename(args.onnx)}", pk, ek,
                   p.astype(np.float64), e.astype(np.float64), args.atol, args.embedding_atol, "onnx")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if len(sys.argv) > 1 and sys.argv[1] == "compare":
        ap.add_argument("mode")
        ap.add_argument("--keras", required=True)
        ap.add_argument("--onnx", required=True)
        ap.add_argument("--atol", type=float, default=1e-4)
        ap.add_argument("--embedding-atol", type=float, default=1e-3)
        return check_compare(ap.parse_args())
    run_arguments(ap)
    ap.add_argument("--tflite", action="store_true", help="also convert with TFLiteConverter.from_keras_model and compare")
    return check_run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
