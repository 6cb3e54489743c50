#!/usr/bin/env python3
"""Times an exported tlearn model against ../shared/reference/mnv2_no_top.onnx in ONNX Runtime, in turns.

    python3 scripts/bench_onnx_export.py MODEL.onnx [--reference ../shared/reference/mnv2_no_top.onnx]
        [--batch 32] [--threads 2] [--turns 5] [--seconds 2]

Needs: pip install onnxruntime numpy (and onnx for --graphs). MODEL.onnx must be an alpha 1.0, 224 x 224, float32-input export
(`tlearn export RUN --format onnx` of a run on the shared weights), so both compute the same backbone
(the export adds only the head and Softmax). Both get the same batch (../shared/reference/inputs_16.f32
tiled, else seeded random inputs) with the same intra-op threads; each turn times one model then the other
for --seconds each, so slow phases of a busy machine fall on both. Prints one JSON line: images/s of
each (median, min, max over turns) and the median of the per-turn ratios model / reference. Only ratios of
one run compare; measure on an idle machine. With --graphs, first prints the operators each model has after
ONNX Runtime's graph optimizations (what actually runs), which does not depend on the machine's load.
"""
import argparse, json, os, statistics, time
import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "reference")


def session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return s, s.get_inputs()[0].name


def rate(sess, name, x, seconds):
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        sess.run(None, {name: x})
        n += len(x)
    return n / (time.perf_counter() - t0)


def print_graphs(models):
    import collections, tempfile
    import onnx
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in models.items():
            so = ort.SessionOptions()
            so.optimized_model_filepath = os.path.join(tmp, label + ".onnx")
            so.log_severity_level = 3   # ORT warns that an NCHWc-optimized file is machine-specific: it is only read here
            ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            ops = collections.Counter(f"{n.domain}:{n.op_type}" if n.domain else n.op_type
                                      for n in onnx.load(so.optimized_model_filepath).graph.node)
            print(json.dumps({"optimized_graph": label, "operators": dict(sorted(ops.items()))}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--reference", default=os.path.join(SHARED, "mnv2_no_top.onnx"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--graphs", action="store_true", help="print each model's operators after ONNX Runtime's optimizations")
    a = ap.parse_args()
    if a.graphs:
        print_graphs({"export": a.model, "reference": a.reference})
    model, reference = session(a.model, a.threads), session(a.reference, a.threads)
    shape = model[0].get_inputs()[0].shape
    if shape[1:] != [224, 224, 3] or model[0].get_inputs()[0].type != "tensor(float)":
        raise SystemExit(f"error: {a.model} takes {model[0].get_inputs()[0].type} {shape}; the reference takes float [N, 224, 224, 3]")
    inputs = os.path.join(SHARED, "inputs_16.f32")
    if os.path.exists(inputs):
        x16 = np.fromfile(inputs, "<f4").reshape(16, 224, 224, 3)
    else:
        x16 = np.random.default_rng(0).uniform(-1, 1, (16, 224, 224, 3)).astype(np.float32)
    x = np.ascontiguousarray(np.resize(x16, (a.batch, 224, 224, 3)))
    for s, name in (model, reference):   # warm-up: first runs allocate
        s.run(None, {name: x})
    ours, theirs = [], []
    for _ in range(a.turns):
        ours.append(rate(*model, x, a.seconds))
        theirs.append(rate(*reference, x, a.seconds))
    summary = lambda r: {"images_per_s": round(statistics.median(r), 1), "min": round(min(r), 1), "max": round(max(r), 1)}
    print(json.dumps({"onnxruntime": ort.__version__, "batch": a.batch, "threads": a.threads, "turns": a.turns,
                      "export": summary(ours), "reference": summary(theirs),
                      "ratio_median": round(statistics.median(o / t for o, t in zip(ours, theirs)), 3)}))


if __name__ == "__main__":
    main()
