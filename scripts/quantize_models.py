#!/usr/bin/env python3
"""Quantises the shipped detectors to int8 (QDQ) with onnxruntime, and checks them against fp32.

Used by scripts/quantize-models.sh, which installs the pinned packages and prepares the calibration
and test frames:

    quantize_models.py quantize SPEC.toml OUT.onnx --calib DIR [--recipe NAME]
        Preprocesses every image in DIR exactly as SPEC.toml's [input] section says, runs
        quant_pre_process on the fp32 model, then quantize_static with the recipe (RECIPES below;
        default: the spec's name) and writes OUT.onnx.

    quantize_models.py evaluate SPEC.toml INT8.onnx --test DIR [--test DIR...] [--runs N]
        Runs the fp32 model (SPEC.toml's file) and INT8.onnx on every image in the test folders,
        decodes both as the spec's [decoder] says, applies the spec's NMS, and matches int8 to fp32
        detections with score >= --score (default 0.3): same class, IoU >= 0.5, greedy by fp32 score.
        Prints the matched share, the largest score difference, then the speed of both models
        (onnxruntime, 1 intra-op thread, sequential runs on the same input, median of N).
        Exit status 1 if the accuracy bar is missed (matched < --min-match or max score diff > 0.1).

    quantize_models.py about NAME
        Prints the `about` line for NAME's int8 spec (it names the recipe).

    quantize_models.py spec SPEC.toml OUT.toml --name NAME --file FILE --about TEXT
        Writes a copy of SPEC.toml with name, file and about replaced (everything else, comments
        included, as it is).

Preprocessing follows the spec fields (layout, width, height, channel_order, resize, mean, std,
pad_value); resizing uses PIL's bilinear filter, which widens its support when shrinking (area-aware),
like the agent's Triangle filter.
"""
import argparse
import json
import os
import re
import statistics
import sys
import time
import tomllib

import numpy as np
from PIL import Image

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# The recipes. Every entry: onnxruntime.quantization.quantize_static arguments plus
#   keep_fp32_after: node-name regexes; the matching nodes and everything downstream of their
#                    outputs stay fp32 (the detection head's last layers and the in-graph decoder).
#   keep_fp32:       node-name regexes of further single nodes kept fp32.
#   fp32_depthwise:  keep every depthwise (grouped) Conv fp32.
RECIPES = {
    # Every op type quantised (activations u8 per tensor, weights s8 per channel), with Percentile
    # 99.99 calibration on asymmetric ranges, except: the stem (3x3 conv + hard-swish) and the first
    # depthwise block (`expanded_conv`), where per-layer comparison showed the error starting
    # (90.0 % matched, max score diff 0.13; with them int8: 85.9 %, 0.24); and the cls/wh output
    # convs and everything after them (sigmoid, 3x3 max-pool peak test with Equal, TopK, Gather,
    # box arithmetic), which stay fp32: the peak test compares exact values.
    # Tried and worse: MinMax (82.6 %, 0.20), Entropy (81.0 %, 0.26), Percentile 99.999 (76.1 %),
    # also keeping expanded_conv_1 fp32 (89.7 %, 0.17, slower), Conv only (86.5 % but slower than
    # fp32, 0.90x: every conv gets a Q/DQ pair around fp32 Mul/Add), SE blocks + stem fp32 with
    # MinMax (79.6 %, 0.98x), depthwise convs fp32 (broken after onnxruntime's QDQ fusions), s8
    # symmetric activations (68 %, 0.46x).
    "centernet": {
        "op_types": None,
        "keep_fp32_after": [r"centernet_(cls|wh)_output/BiasAdd"],
        "keep_fp32": [r"MobilenetV3/(Conv|expanded_conv)/", r"^Conv__503$"],
        "activation_type": "QUInt8",
        "weight_type": "QInt8",
        "per_channel": True,
        "calibrate_method": "Percentile",
        "extra_options": {"CalibPercentile": 99.99, "CalibTensorRangeSymmetric": False},
    },
    # Everything quantised except: the stem's max-pool and its Pad, whose pad value is -inf (MinMax
    # calibration then gets an infinite range and every later tensor collapses: 0 % matched), and
    # the three 1x1 head convs with their Split/Sigmoid/Reshape/Transpose (quantised, the class
    # scores came out ~4x too low). Keeping the heads' 3x3 convs fp32 as well gained nothing.
    # Entropy calibration (93.7 % matched, max score diff 0.14); tried and worse: MinMax (81.5 %,
    # 0.25), Percentile 99.99 (84.9 %, 0.20) and 99.999 (88.9 %, 0.15).
    "nanodet": {
        "op_types": None,
        "keep_fp32_after": [r"^Conv__17[68]$|^Conv__180$"],
        "keep_fp32": [r"PartitionedCall/PadV2$", r"PartitionedCall/MaxPool2d$"],
        "activation_type": "QUInt8",
        "weight_type": "QInt8",
        "per_channel": True,
        "calibrate_method": "Entropy",
    },
}

# The spec's `about` line of each int8 model.
ABOUT = {
    "centernet": "CenterNet MobileNetV3 int8 (QDQ, onnxruntime quantize_static: all ops, u8 activations, "
    "s8 per-channel weights, Percentile 99.99 on opencv-doc frames; stem, first block, cls/wh output convs "
    "and decoder fp32), "
    "from centernet.onnx by scripts/quantize-models.sh",
    "nanodet": "NanoDet-m int8 (QDQ, onnxruntime quantize_static: all ops, u8 activations, s8 per-channel "
    "weights, Entropy on opencv-doc frames; stem max-pool and 1x1 head convs fp32), "
    "from nanodet.onnx by scripts/quantize-models.sh",
}


def load_spec(path):
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    spec["_dir"] = os.path.dirname(os.path.abspath(path))
    return spec


def spec_model_path(spec):
    return os.path.join(spec["_dir"], spec["file"])


def list_images(folders):
    out = []
    for d in folders:
        for name in sorted(os.listdir(d)):
            if name.lower().endswith(IMAGE_EXTS):
                out.append(os.path.join(d, name))
    return out


def preprocess(path, inp):
    """One image as the model's input tensor, following the spec's [input] fields."""
    img = Image.open(path).convert("RGB")
    w, h = int(inp["width"]), int(inp["height"])
    mode = inp.get("resize", "stretch")
    if mode == "stretch":
        canvas = img.resize((w, h), Image.BILINEAR)
    elif mode == "letterbox":
        scale = min(w / img.width, h / img.height)
        rw = min(max(round(img.width * scale), 1), w)
        rh = min(max(round(img.height * scale), 1), h)
        pad = int(inp.get("pad_value", 114))
        canvas = Image.new("RGB", (w, h), (pad, pad, pad))
        canvas.paste(img.resize((rw, rh), Image.BILINEAR), ((w - rw) // 2, (h - rh) // 2))
    else:
        raise SystemExit("unknown resize mode %r" % mode)
    x = np.asarray(canvas, dtype=np.float32)  # HWC, RGB
    order = inp.get("channel_order", "rgb")
    if order == "bgr":
        x = x[:, :, ::-1]
    elif order != "rgb":
        raise SystemExit("unknown channel_order %r" % order)
    mean = np.asarray(inp.get("mean", [0.0, 0.0, 0.0]), dtype=np.float32)
    std = np.asarray(inp.get("std", [1.0, 1.0, 1.0]), dtype=np.float32)
    x = (x - mean) / std
    layout = inp.get("layout", "nhwc")
    if layout == "nchw":
        x = x.transpose(2, 0, 1)
    elif layout != "nhwc":
        raise SystemExit("unknown layout %r" % layout)
    return np.ascontiguousarray(x[None], dtype=np.float32)


# ---------------------------------------------------------------- quantisation


def downstream_nodes(graph, seeds):
    """Names of the seed nodes and of every node fed, directly or not, by their outputs."""
    consumers = {}
    for n in graph.node:
        for t in n.input:
            consumers.setdefault(t, []).append(n)
    out, stack = set(), list(seeds)
    while stack:
        n = stack.pop()
        if n.name in out:
            continue
        out.add(n.name)
        for t in n.output:
            stack.extend(consumers.get(t, []))
    return out


def fp32_nodes(model, recipe):
    graph = model.graph
    # Nodes that do not depend on the image (shape arithmetic on constants, e.g. NanoDet's reshape
    # sizes computed with float Add + Cast) must stay exact: always fp32.
    image_fed = downstream_nodes(graph, [n for n in graph.node if set(n.input) & {i.name for i in graph.input}])
    constant = {n.name for n in graph.node if n.name not in image_fed}
    after = [n for n in graph.node if any(re.search(p, n.name) for p in recipe["keep_fp32_after"])]
    if len(after) < len(recipe["keep_fp32_after"]):
        raise SystemExit("recipe: a keep_fp32_after pattern matched no node")
    names = downstream_nodes(graph, after)
    for p in recipe["keep_fp32"]:
        hit = [n.name for n in graph.node if re.search(p, n.name)]
        if not hit:
            raise SystemExit("recipe: keep_fp32 pattern %r matched no node" % p)
        names.update(hit)
    if recipe.get("fp32_depthwise"):
        for n in graph.node:
            if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute):
                names.add(n.name)
    return sorted(names | constant)


class FrameReader:
    """Calibration data reader; set_range/__len__ let onnxruntime feed it in strides."""

    def __init__(self, name, tensors):
        self.name = name
        self.tensors = tensors
        self.it = iter(tensors)

    def __len__(self):
        return len(self.tensors)

    def set_range(self, start_index, end_index):
        self.it = iter(self.tensors[start_index:end_index])

    def get_next(self):
        x = next(self.it, None)
        return None if x is None else {self.name: x}

    def rewind(self):
        self.it = iter(self.tensors)


def finite_histograms():
    """Makes onnxruntime's histogram calibration (Entropy, Percentile) skip non-finite values.

    NanoDet's stem pads with -inf before its max-pool (both kept fp32); np.histogram refuses the
    infinite range ("supplied range of [-inf, inf] is not finite"), so those values are dropped
    from the histograms (MinMax ignores the range of that tensor anyway, as nothing quantises it).
    """
    from onnxruntime.quantization import calibrate

    collect = calibrate.HistogramCollector.collect
    if getattr(collect, "_finite", False):
        return

    def finite_collect(self, name_to_arr):
        clean = {}
        for name, arrs in name_to_arr.items():
            arrs = arrs if isinstance(arrs, list) else [arrs]
            if all(np.isfinite(a).all() for a in arrs):
                clean[name] = arrs
            else:
                clean[name] = np.concatenate([a[np.isfinite(a)] for a in arrs])
        return collect(self, clean)

    finite_collect._finite = True
    calibrate.HistogramCollector.collect = finite_collect


def cmd_quantize(args):
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    spec = load_spec(args.spec)
    recipe = dict(RECIPES[args.recipe or spec["name"]])
    if args.recipe_json:
        recipe.update(json.loads(args.recipe_json))
    images = list_images(args.calib)
    if not images:
        raise SystemExit("no calibration images in %s" % args.calib)
    tensors = [preprocess(p, spec["input"]) for p in images]
    print("%s: %d calibration images from %s" % (spec["name"], len(images), ", ".join(args.calib)))

    pre = args.output + ".pre.onnx"
    quant_pre_process(spec_model_path(spec), pre, skip_symbolic_shape=False)
    model = onnx.load(pre)
    exclude = fp32_nodes(model, recipe)
    print("%s: recipe %s" % (spec["name"], json.dumps({k: v for k, v in recipe.items()})))
    print("%s: %d of %d nodes kept fp32 by keep_fp32_after/keep_fp32" % (spec["name"], len(exclude), len(model.graph.node)))
    # Calibration keeps at most `chunk` images' intermediate tensors in memory at a time; onnxruntime
    # 1.31 raises "No data is collected" if the image count is a multiple of the chunk size.
    # The histogram methods (Entropy, Percentile) have no such limit: they keep every image's
    # intermediate tensors (CenterNet: ~24 GB for 64 images, killed by the OOM killer), so they are
    # fed in strides of at most 4 images (CalibStridedMinMax works for every calibrator; the
    # histograms accumulate over the strides).
    extra = dict(recipe.get("extra_options", {}))
    if recipe["calibrate_method"] == "MinMax":
        chunk = next((c for c in range(8, 1, -1) if len(tensors) % c), None)
        if chunk:
            extra["CalibMaxIntermediateOutputs"] = chunk
    else:
        extra.setdefault("CalibStridedMinMax", next(c for c in range(4, 0, -1) if len(tensors) % c == 0))
    if recipe["calibrate_method"] != "MinMax":
        finite_histograms()
    t0 = time.time()
    quantize_static(
        pre,
        args.output,
        FrameReader(spec["input"]["name"], tensors),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=recipe["op_types"],
        nodes_to_exclude=exclude,
        per_channel=recipe["per_channel"],
        activation_type=getattr(QuantType, recipe["activation_type"]),
        weight_type=getattr(QuantType, recipe["weight_type"]),
        calibrate_method=getattr(CalibrationMethod, recipe["calibrate_method"]),
        extra_options=extra,
    )
    os.remove(pre)
    print("%s: quantised in %.0f s -> %s (%.1f MB)" % (spec["name"], time.time() - t0, args.output, os.path.getsize(args.output) / 1e6))
    return 0


# ---------------------------------------------------------------- decoding and matching


def iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(dets, mode, threshold):
    """dets: list of (box, score, class). mode: class_aware | cross_class | none."""
    dets = sorted(dets, key=lambda d: -d[1])
    if mode in ("none", None):
        return dets
    keep = []
    for d in dets:
        if all(not ((mode == "cross_class" or k[2] == d[2]) and iou(k[0], d[0]) > threshold) for k in keep):
            keep.append(d)
    return keep


def decode(spec, outputs, min_score):
    dec = spec["decoder"]
    w, h = spec["input"]["width"], spec["input"]["height"]
    dets = []
    if dec["kind"] == "centernet":
        rows = outputs[dec["output"]].reshape(-1, 6)
        for r in rows:
            if r[4] >= min_score:
                box = r[:4].astype(np.float64)
                if dec.get("coords", "pixels") != "pixels":
                    box = box * [w, h, w, h]
                dets.append((tuple(box), float(r[4]), int(r[5])))
    elif dec["kind"] == "nanodet":
        bins = int(dec["bins"])
        for head in dec["heads"]:
            stride = int(head["stride"])
            gw = (w + stride - 1) // stride
            scores = outputs[head["scores"]].reshape(-1, outputs[head["scores"]].shape[-1])
            reg = outputs[head["boxes"]].reshape(-1, 4, bins)
            cls = scores.argmax(1)
            top = scores[np.arange(len(cls)), cls]
            for cell in np.nonzero(top >= min_score)[0]:
                logits = reg[cell] - reg[cell].max(1, keepdims=True)
                p = np.exp(logits)
                p /= p.sum(1, keepdims=True)
                side = (p * np.arange(bins)).sum(1) * stride
                cx = (cell % gw + 0.5) * stride
                cy = (cell // gw + 0.5) * stride
                dets.append(((cx - side[0], cy - side[1], cx + side[2], cy + side[3]), float(top[cell]), int(cls[cell])))
    else:
        raise SystemExit("decoder %r not supported here" % dec["kind"])
    pp = spec.get("postprocess", {})
    dets = nms(dets, pp.get("nms", "class_aware"), float(pp.get("iou_threshold", 0.5)))
    return dets[: int(pp.get("max_detections", 100))]


def match(ref, got, iou_min=0.5):
    """Greedy: each reference detection (by score) takes the best-IoU unused detection of its class."""
    used = [False] * len(got)
    pairs = []
    for r in sorted(ref, key=lambda d: -d[1]):
        best, best_iou = -1, iou_min
        for j, g in enumerate(got):
            if used[j] or g[2] != r[2]:
                continue
            v = iou(r[0], g[0])
            if v >= best_iou:
                best, best_iou = j, v
        if best >= 0:
            used[best] = True
            pairs.append((r, got[best], best_iou))
        else:
            pairs.append((r, None, 0.0))
    return pairs


def session(path, threads, size=None):
    """An onnxruntime session; size: a square input size to set in place of the model's own."""
    import onnxruntime as ort

    if size:
        import onnx

        model = onnx.load(path)
        dims = model.graph.input[0].type.tensor_type.shape.dim
        nchw = dims[1].dim_value == 3
        for d in (2, 3) if nchw else (1, 2):
            dims[d].dim_value = size
        for o in model.graph.output:
            o.type.tensor_type.ClearField("shape")
        path = model.SerializeToString()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run_all(sess, x):
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {sess.get_inputs()[0].name: x})))


def bench(sess, x, runs, warmup=3):
    name = sess.get_inputs()[0].name
    outs = [o.name for o in sess.get_outputs()]
    for _ in range(warmup):
        sess.run(outs, {name: x})
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(outs, {name: x})
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cmd_evaluate(args):
    spec = load_spec(args.spec)
    fp32 = session(spec_model_path(spec), 2)
    int8 = session(args.int8, 2)
    groups = {d: list_images([d]) for d in args.test}
    total = matched = extra = 0
    max_diff = 0.0
    misses = []
    per_group = []
    worst_iou = 1.0
    for d, images in groups.items():
        g_total = g_matched = 0
        for p in images:
            x = preprocess(p, spec["input"])
            ref = decode(spec, run_all(fp32, x), args.score)
            got = decode(spec, run_all(int8, x), args.score)
            pairs = match(ref, got)
            hits = [pr for pr in pairs if pr[1] is not None]
            g_total += len(ref)
            g_matched += len(hits)
            extra += len(got) - len(hits)
            for r, g, v in hits:
                max_diff = max(max_diff, abs(r[1] - g[1]))
                worst_iou = min(worst_iou, v)
            for r, g, _ in pairs:
                if g is None:
                    misses.append("%s: class %d score %.3f" % (os.path.basename(p), r[2], r[1]))
        per_group.append((d, len(images), g_matched, g_total))
        total += g_total
        matched += g_matched
    name = spec["name"]
    for d, n, m, t in per_group:
        print("%s: %-28s %3d images: %d/%d fp32 detections matched (%.1f %%)" % (name, os.path.basename(d.rstrip("/")), n, m, t, 100.0 * m / max(t, 1)))
    share = matched / max(total, 1)
    print("%s: ACCURACY matched %d/%d = %.1f %% of fp32 detections (score >= %.2f, same class, IoU >= 0.5); "
          "max |score diff| %.3f; min IoU of a match %.3f; %d int8-only detections"
          % (name, matched, total, 100 * share, args.score, max_diff, worst_iou, extra))
    for m in misses[:20]:
        print("%s:   unmatched fp32 detection %s" % (name, m))
    ok = share >= args.min_match and max_diff <= 0.1
    if args.runs:
        first = next(p for imgs in groups.values() for p in imgs)
        x = preprocess(first, spec["input"])
        f1, i1 = session(spec_model_path(spec), 1), session(args.int8, 1)
        t_f = bench(f1, x, args.runs)
        t_i = bench(i1, x, args.runs)
        print("%s: SPEED 1 thread, median of %d: fp32 %.1f ms (%.1f fps), int8 %.1f ms (%.1f fps): %.2fx"
              % (name, args.runs, 1e3 * t_f, 1 / t_f, 1e3 * t_i, 1 / t_i, t_f / t_i))
        for size in args.sizes:
            inp = dict(spec["input"], width=size, height=size)
            xs = preprocess(first, inp)
            try:
                f1, i1 = session(spec_model_path(spec), 1, size), session(args.int8, 1, size)
                t_f = bench(f1, xs, args.runs)
                t_i = bench(i1, xs, args.runs)
            except Exception as e:  # a model with input-size-specific constants in its graph
                print("%s: SPEED at %dx%d: the model does not run at that size (%s)" % (name, size, size, str(e).splitlines()[0][:120]))
                continue
            print("%s: SPEED at %dx%d input, 1 thread, median of %d: fp32 %.1f ms (%.1f fps), int8 %.1f ms (%.1f fps): %.2fx"
                  % (name, size, size, args.runs, 1e3 * t_f, 1 / t_f, 1e3 * t_i, 1 / t_i, t_f / t_i))
    print("%s: SIZE fp32 %.1f MB, int8 %.1f MB" % (name, os.path.getsize(spec_model_path(spec)) / 1e6, os.path.getsize(args.int8) / 1e6))
    if not ok:
        print("%s: MISSES the bar (matched >= %.0f %%, max score diff <= 0.1)" % (name, 100 * args.min_match))
    return 0 if ok else 1


# ---------------------------------------------------------------- spec copy


def cmd_spec(args):
    with open(args.spec, encoding="utf-8") as f:
        text = f.read()
    for key, value in (("name", args.name), ("file", args.file), ("about", args.about)):
        text, n = re.subn(r'(?m)^%s = ".*"$' % key, lambda _m: '%s = %s' % (key, json.dumps(value)), text, count=1)
        if n != 1:
            raise SystemExit("%s: no top-level %s line" % (args.spec, key))
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quantize")
    q.add_argument("spec")
    q.add_argument("output")
    q.add_argument("--calib", action="append", required=True)
    q.add_argument("--recipe")
    q.add_argument("--recipe-json", help="JSON object overriding recipe fields (for experiments)")
    e = sub.add_parser("evaluate")
    e.add_argument("spec")
    e.add_argument("int8")
    e.add_argument("--test", action="append", required=True)
    e.add_argument("--score", type=float, default=0.3)
    e.add_argument("--min-match", type=float, default=0.95)
    e.add_argument("--runs", type=int, default=15)
    e.add_argument("--sizes", type=int, nargs="*", default=[], help="also time these square input sizes")
    s = sub.add_parser("spec")
    s.add_argument("spec")
    s.add_argument("output")
    s.add_argument("--name", required=True)
    s.add_argument("--file", required=True)
    s.add_argument("--about", required=True)
    a = sub.add_parser("about")
    a.add_argument("name")
    args = ap.parse_args()
    if args.cmd == "about":
        print(ABOUT[args.name])
        return 0
    return {"quantize": cmd_quantize, "evaluate": cmd_evaluate, "spec": cmd_spec}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
