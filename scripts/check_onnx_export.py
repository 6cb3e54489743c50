#!/usr/bin/env python3
"""Checks `tlearn export RUN --format onnx` with ONNX Runtime: the exported model computes what tlearn computes.

    python3 scripts/check_onnx_export.py --db DB --run RUN --weights FILE.h5 [--tlearn .build/debug/tlearn]
        [IMAGE ...] [--split test --images-root DIR] [--reference-inputs inputs_16.f32]
    python3 scripts/check_onnx_export.py finetune --model M.onnx --dir DIR

Needs: pip install onnxruntime onnx numpy.

Default mode: exports the run with tlearn (--input float32 and --input uint8), runs onnx.checker.check_model
(full_check) on both, then for the images given and those of --split (paths from the database, under
--images-root) compares
  - `probabilities` with `tlearn predict RUN --json` (max abs difference <= --atol, same top-1 on every image),
  - `embedding` with `tlearn embed --json` (max abs difference <= --embedding-atol); for a finetune run, whose
    embedding is the tuned Conv_1's, with NumPy from the model's own `block_16_project_BN` maps and the run's
    tuned Conv_1 (`tlearn export RUN --out head.json`), as in finetune mode,
feeding the model exactly the network inputs tlearn made (`tlearn embed --inputs`; for uint8 the bytes they
come from). With --reference-inputs, the model also gets those float32 inputs (n x S x S x 3 scaled from
bytes, e.g. ../shared/reference/inputs_16.f32), compared with `tlearn predict` and `tlearn embed` on S x S PNGs
of those bytes (tlearn's resize leaves an S x S image as it is: its inputs must be the reference bit for bit).

finetune mode (used by the Swift tests, which write DIR): checks a model exported with a tuned Conv_1 against
NumPy in float64 from `block_16_project_BN`, the model's own Conv_1 input, rounded to float16 as tlearn stores
maps: relu6(maps K + b), averaged over pixels, then softmax(e W + b), with K, b, W, b read from
DIR/conv1_kernel.f32 (cin x cout), conv1_bias.f32, dense_kernel.f32 (dim x classes), dense_bias.f32, and
inputs from DIR/inputs.f32 (n x S x S x 3).

Prints one line per comparison; exits 1 when any bound fails.
"""
import argparse, json, os, sqlite3, struct, subprocess, sys, tempfile, zlib
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = 32
MAPS = "block_16_project_BN"   # the input of Conv_1, named after Keras's layer in both exports


def session(path, maps=False):
    """An ONNX Runtime session of the model at path; with maps, MAPS is one of its outputs too."""
    import onnx
    import onnxruntime as ort
    model = onnx.load(path)
    if maps:
        model.graph.output.append(onnx.helper.make_tensor_value_info(MAPS, onnx.TensorProto.FLOAT, None))
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def run_model(sess, x):
    """probabilities, embedding (and MAPS as NHWC when the session has it) for all of x, BATCH images at a time."""
    names = [o.name for o in sess.get_outputs()]
    outs = [sess.run(names, {sess.get_inputs()[0].name: x[i:i + BATCH]}) for i in range(0, len(x), BATCH)]
    got = {n: np.concatenate([o[k] for o in outs]) for k, n in enumerate(names)}
    return got["probabilities"], got["embedding"], got[MAPS].transpose(0, 2, 3, 1) if MAPS in got else None


def tuned_embedding(maps, conv1):
    """relu6(maps K + b) averaged over pixels, in float64, with the maps (n, h, w, cin) rounded to float16 as
    tlearn stores the maps a finetune model reads."""
    k, b = conv1
    m = maps.astype(np.float16).astype(np.float64).reshape(len(maps), -1, maps.shape[-1])
    return np.clip(m @ k + b, 0, 6).mean(axis=1)


def to_bytes(x):
    """The uint8 pixels tlearn scaled into x; they must give back x exactly under float32(b) / 127.5 - 1."""
    b = np.rint((x.astype(np.float64) + 1) * 127.5).astype(np.uint8)
    if not np.array_equal(b.astype(np.float32) / np.float32(127.5) - np.float32(1), x):
        sys.exit("error: tlearn's network inputs are not x / 127.5 - 1 of bytes")
    return b


def tool(args, *rest):
    r = subprocess.run([args.tlearn, *rest], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"error: tlearn {' '.join(rest[:2])} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def tuned_conv1(args, tmp):
    """The run's tuned Conv_1 (kernel cin x dim, bias) from `tlearn export RUN --out head.json`; None for a softmax run."""
    path = os.path.join(tmp, "head.json")
    tool(args, "export", str(args.run), "--db", args.db, "--out", path)
    head = json.load(open(path))
    if "conv1" not in head:
        return None
    return np.array(head["conv1"]["kernel"], dtype=np.float64), np.array(head["conv1"]["bias"], dtype=np.float64)


def tlearn_outputs(args, images, size, exact, classes, tmp):
    """tlearn's inputs (n, S, S, 3), embeddings (n, dim) and predict probabilities (n, classes) for images."""
    inputs = os.path.join(tmp, "inputs.f32")
    lines = tool(args, "embed", "--weights", args.weights, "--input-size", str(size), "--json", "--inputs", inputs,
                 *(["--exact-decode"] if exact else []), *images).splitlines()
    embeddings = np.array([json.loads(line)["embedding"] for line in lines], dtype=np.float32)
    x = np.fromfile(inputs, "<f4").reshape(-1, size, size, 3)
    predicted = json.loads(tool(args, "predict", str(args.run), "--db", args.db, "--weights", args.weights, "--json",
                                "--top", str(len(classes)), *images))
    if [p["path"] for p in predicted] != images or len(x) != len(images) or len(embeddings) != len(images):
        sys.exit("error: tlearn did not embed or classify every image (see its errors above)")
    column = {c: j for j, c in enumerate(classes)}
    probabilities = np.zeros((len(images), len(classes)))
    for i, p in enumerate(predicted):
        for q in p["predictions"]:
            probabilities[i, column[q["class"]]] = q["probability"]
    return x, embeddings, probabilities


def compare(label, p, e, p_ref, e_ref, atol, embedding_atol, embedding_reference="tlearn embed"):
    dp = float(np.abs(p.astype(np.float64) - p_ref).max())
    de = float(np.abs(e.astype(np.float64) - e_ref).max()) if e_ref is not None else None
    same = int((p.argmax(1) == p_ref.argmax(1)).sum())
    ok = dp <= atol and same == len(p) and (de is None or de <= embedding_atol)
    text = f"{label}: {len(p)} images, probabilities max abs diff {dp:.2e} (limit {atol:g}), top-1 same {same}/{len(p)}"
    if de is not None:
        text += f", embedding vs {embedding_reference} max abs diff {de:.2e} (limit {embedding_atol:g})"
    print(("ok    " if ok else "FAIL  ") + text)
    return ok


def compare_with_tlearn(args, label, predict, x, e_tlearn, p_ref, conv1):
    """predict(x) -> (probabilities, embedding, maps) against tlearn's probabilities, and its embedding against
    tlearn embed's (softmax run) or NumPy's from the model's own maps (finetune run)."""
    p, e, maps = predict(x)
    if conv1 is None:
        return compare(label, p, e, p_ref, e_tlearn, args.atol, args.embedding_atol)
    return compare(label, p, e, p_ref, tuned_embedding(maps, conv1), args.atol, args.embedding_atol,
                   "NumPy on its own maps")


def run_images(args):
    """The run's input size, whether its JPEGs were decoded at full size, and the images to compare on."""
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    row = db.execute("SELECT r.backbone_id, b.input_size, b.preprocessing FROM runs r "
                     "JOIN backbones b ON b.id = r.backbone_id WHERE r.id = ?", (args.run,)).fetchone()
    if row is None:
        sys.exit(f"error: {args.db} has no run {args.run}")
    backbone, size, preprocessing = row
    images = list(args.images)
    if args.split:
        if not args.images_root:
            sys.exit("error: --split needs --images-root, the folder the database's image paths are relative to")
        paths = [p for (p,) in db.execute("SELECT DISTINCT path FROM labeled_embeddings WHERE split = ? AND backbone = ? "
                                          "ORDER BY path", (args.split, backbone))]
        if not paths:
            sys.exit(f"error: {args.db} has no {args.split} images for run {args.run}'s backbone")
        images += [os.path.join(args.images_root, p) for p in paths]
    return size, "dct-scale" not in preprocessing, images


def write_png(path, pixels):
    """An 8-bit RGB PNG of pixels (h, w, 3) uint8: signature, IHDR, one zlib IDAT (filter 0 per row), IEND."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    h, w, _ = pixels.shape
    rows = b"".join(b"\0" + pixels[y].tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def run_arguments(ap):
    """The options of a run check (this script's and check_keras_export.py's)."""
    ap.add_argument("images", nargs="*", help="image files to classify")
    ap.add_argument("--db", required=True)
    ap.add_argument("--run", type=int, required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--tlearn", default=os.path.join(REPO, ".build", "debug", "tlearn"))
    ap.add_argument("--split", help="also every image of this split (train, val, test) in the database")
    ap.add_argument("--images-root", help="the folder the database's image paths are relative to")
    ap.add_argument("--reference-inputs", help="float32 inputs (n x S x S x 3) scaled from bytes, e.g. inputs_16.f32")
    ap.add_argument("--atol", type=float, default=1e-4, help="bound on the probabilities' max abs difference")
    ap.add_argument("--embedding-atol", type=float, default=1e-3, help="bound on the embeddings' max abs difference")


def check_reference(args, size, exact, classes, tmp, predict, conv1):
    """--reference-inputs through `predict` against `tlearn predict` on the same inputs: each becomes an S x S PNG
    of the bytes it was scaled from, which tlearn's resize to S x S leaves as it is."""
    reference = np.fromfile(args.reference_inputs, "<f4").reshape(-1, size, size, 3)
    folder = os.path.join(tmp, "reference")
    os.makedirs(folder)
    pngs = [os.path.join(folder, f"{i:03d}.png") for i in range(len(reference))]
    for path, pixels in zip(pngs, to_bytes(reference)):
        write_png(path, pixels)
    x, e_ref, p_ref = tlearn_outputs(args, pngs, size, exact, classes, tmp)
    ok = True
    if not np.array_equal(x, reference):
        print(f"FAIL  tlearn's inputs for the PNGs of {args.reference_inputs} are not those inputs "
              f"(max abs {np.abs(x - reference).max():.2e})")
        ok = False
    return ok & compare_with_tlearn(args, f"{os.path.basename(args.reference_inputs)} vs tlearn predict", predict,
                                    reference, e_ref, p_ref, conv1)


def check_run(args):
    import onnx
    size, exact, images = run_images(args)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        conv1 = tuned_conv1(args, tmp)
        models = {}
        for kind in ("float32", "uint8"):
            path = os.path.join(tmp, f"{kind}.onnx")
            tool(args, "export", str(args.run), "--db", args.db, "--weights", args.weights, "--format", "onnx",
                 "--input", kind, "--out", path)
            onnx.checker.check_model(onnx.load(path), full_check=True)
            models[kind] = session(path, maps=conv1 is not None)
        meta = models["float32"].get_modelmeta().custom_metadata_map
        classes = json.loads(meta["classes"])
        print(f"ok    onnx.checker full check: run {args.run}, {meta['model']}, alpha {meta['alpha']}, input {size}, "
              f"{len(classes)} classes, opset {onnx.load(path).opset_import[0].version}")
        if images:
            x, e_ref, p_ref = tlearn_outputs(args, images, size, exact, classes, tmp)
            for kind, feed in (("float32", x), ("uint8", to_bytes(x))):
                ok &= compare_with_tlearn(args, f"{kind} input vs tlearn predict",
                                          lambda _: run_model(models[kind], feed), x, e_ref, p_ref, conv1)
        if args.reference_inputs:
            ok &= check_reference(args, size, exact, classes, tmp, lambda x: run_model(models["float32"], x), conv1)
    return ok


def check_finetune(args):
    import onnx
    onnx.checker.check_model(onnx.load(args.model), full_check=True)
    sess = session(args.model, maps=True)
    size = sess.get_inputs()[0].shape[1]
    f32 = lambda name: np.fromfile(os.path.join(args.dir, name), "<f4").astype(np.float64)
    b1, bd = f32("conv1_bias.f32"), f32("dense_bias.f32")
    k1, wd = f32("conv1_kernel.f32").reshape(-1, len(b1)), f32("dense_kernel.f32").reshape(len(b1), len(bd))
    x = np.fromfile(os.path.join(args.dir, "inputs.f32"), "<f4").reshape(-1, size, size, 3)
    p, e, maps = run_model(sess, x)
    e_ref = tuned_embedding(maps, (k1, b1))
    z = e_ref @ wd + bd
    p_ref = np.exp(z - z.max(1, keepdims=True))
    p_ref /= p_ref.sum(1, keepdims=True)
    return compare(f"finetune model (tuned Conv_1) vs NumPy from its {MAPS}", p, e, p_ref, e_ref,
                   args.atol, args.embedding_atol, "NumPy")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if len(sys.argv) > 1 and sys.argv[1] == "finetune":
        ap.add_argument("mode")
        ap.add_argument("--model", required=True)
        ap.add_argument("--dir", required=True)
        ap.add_argument("--atol", type=float, default=1e-4, help="bound on the probabilities' max abs difference")
        ap.add_argument("--embedding-atol", type=float, default=1e-3, help="bound on the embeddings' max abs difference")
        return check_finetune(ap.parse_args())
    run_arguments(ap)
    return check_run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
