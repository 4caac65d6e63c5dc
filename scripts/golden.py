#!/usr/bin/env python3
"""Reference detections for roadeye's parity tests, made with Python onnxruntime.

An independent implementation (numpy + Pillow + onnxruntime) of the preprocessing, decoding and
NMS rules that roadeye's detectors follow. For every model and image it writes
<out>/<model>/<image stem>.json; for one image (dog.jpg by default) it also writes
<out>/<model>/<stem>.raw.json with a slice of the raw model output, to pin the decoders.

Rules shared by both models: decode to RGB with Pillow, stretch-resize to the model input with
Pillow's BILINEAR (which antialiases when shrinking), map boxes back with x * src_w / W and
y * src_h / H, clip to the image, drop empty boxes, keep score >= threshold, then greedy NMS.
"""
import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

IMAGES = ["dog.jpg", "person.jpg", "kite.jpg", "horses.jpg", "giraffe.jpg"]
NANODET_STRIDES = (8, 16, 32)
NANODET_BINS = 11

MODELS = {
    "centernet": dict(
        file="centernet.onnx", size=512, score_threshold=0.3, nms="cross_class", iou_threshold=0.5,
        about="RGB, Pillow BILINEAR stretch to 512x512, NHWC raw 0..255; boxes and scores from "
              "tower_0/detections [1,100,6] (x1,y1,x2,y2,score,class); cross-class greedy NMS at IoU > 0.5"),
    "nanodet": dict(
        file="nanodet.onnx", size=416, score_threshold=0.35, nms="class_aware", iou_threshold=0.6,
        about="BGR, Pillow BILINEAR stretch to 416x416, NCHW (x - [103.53,116.28,123.675]) / "
              "[57.375,57.12,58.395]; per cell argmax of 80 sigmoid scores, GFL boxes (softmax over 11 bins "
              "x stride, centre (col+0.5, row+0.5) x stride) at strides 8/16/32; class-aware greedy NMS at IoU > 0.6"),
}


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def f32(x):
    """A float32 as the shortest decimal that reads back to the same float32."""
    return float(str(np.float32(x)))


def load_resized(path, size):
    """Source size (w, h) and the RGB image stretched to size x size, as float32 HxWx3 in 0..255."""
    img = Image.open(path).convert("RGB")
    resized = img.resize((size, size), Image.BILINEAR)
    return img.size, np.asarray(resized, dtype=np.float32)


def preprocess(model, rgb):
    if model == "centernet":
        return rgb[None]  # [1,H,W,3] RGB, raw 0..255
    bgr = rgb[:, :, ::-1]
    norm = (bgr - np.array([103.53, 116.28, 123.675], np.float32)) / np.array([57.375, 57.12, 58.395], np.float32)
    return np.ascontiguousarray(norm.transpose(2, 0, 1)[None], dtype=np.float32)  # [1,3,H,W] BGR


def nanodet_outputs(session):
    """Output names by stride: {stride: (scores name, regression name)}, found from the shapes."""
    by_shape = {tuple(o.shape[1:]): o.name for o in session.get_outputs()}
    names = {}
    for s in NANODET_STRIDES:
        n = (416 // s) ** 2
        names[s] = (by_shape[(n, 80)], by_shape[(n, 4 * NANODET_BINS)])
    return names


def run(model, session, x):
    """Raw outputs: centernet -> [100,6]; nanodet -> {stride: (scores [N,80], reg [N,44])}."""
    inp = session.get_inputs()[0].name
    if model == "centernet":
        return session.run(["tower_0/detections"], {inp: x})[0][0]
    names = nanodet_outputs(session)
    flat = [n for s in NANODET_STRIDES for n in names[s]]
    outs = dict(zip(flat, session.run(flat, {inp: x})))
    return {s: (outs[names[s][0]][0], outs[names[s][1]][0]) for s in NANODET_STRIDES}


def gfl_boxes(reg, cells, stride, size):
    """Boxes (x1,y1,x2,y2) in input pixels for the given cells of one stride's [N,44] regression."""
    logits = reg[cells].astype(np.float64).reshape(-1, 4, NANODET_BINS)
    p = np.exp(logits - logits.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    dist = (p * np.arange(NANODET_BINS)).sum(axis=2) * stride  # left, top, right, bottom
    grid_w = size // stride
    cx = (cells % grid_w + 0.5) * stride
    cy = (cells // grid_w + 0.5) * stride
    return np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=1)


def decode(model, raw, size, threshold):
    """Candidates as (boxes [K,4] in input pixels, scores [K], classes [K])."""
    if model == "centernet":
        return raw[:, :4].astype(np.float64), raw[:, 4].astype(np.float64), raw[:, 5].astype(np.int64)
    boxes, scores, classes = [], [], []
    for s in NANODET_STRIDES:
        cls, reg = raw[s]
        best, score = cls.argmax(axis=1), cls.max(axis=1)
        cells = np.nonzero(score >= threshold)[0]
        boxes.append(gfl_boxes(reg, cells, s, size))
        scores.append(score[cells].astype(np.float64))
        classes.append(best[cells])
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)


def iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def postprocess(boxes, scores, classes, src, size, threshold, nms, iou_threshold):
    """Map to source pixels, clip, drop empty boxes, threshold, then greedy NMS; sorted by score."""
    w, h = src
    boxes = boxes * np.array([w / size, h / size, w / size, h / size])
    boxes = np.clip(boxes, 0, [w, h, w, h])
    ok = (boxes[:, 2] - boxes[:, 0] > 0) & (boxes[:, 3] - boxes[:, 1] > 0) & (scores >= threshold)  # NaN fails
    cand = [(float(scores[i]), int(classes[i]), boxes[i].tolist()) for i in np.nonzero(ok)[0]]
    cand.sort(key=lambda c: -c[0])  # stable
    kept = []
    for c in cand:
        rivals = [k for k in kept if nms == "cross_class" or k[1] == c[1]]
        if all(iou(c[2], k[2]) <= iou_threshold for k in rivals):
            kept.append(c)
    return kept


def dump(obj, path):
    """JSON, one key per line; lists of records or rows get one item per line."""
    def item(v):
        if isinstance(v, list) and v and isinstance(v[0], (dict, list)):
            return "[\n" + ",\n".join(f"    {json.dumps(x)}" for x in v) + "\n  ]"
        return json.dumps(v)
    body = ",\n".join(f"  {json.dumps(k)}: {item(v)}" for k, v in obj.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{\n" + body + "\n}\n")


def raw_record(model, raw, size):
    if model == "centernet":
        return {"output": "tower_0/detections", "columns": ["x1", "y1", "x2", "y2", "score", "class"],
                "rows": [[f32(v) for v in row] for row in raw[:5]]}
    cls, reg = raw[8]
    score = cls.max(axis=1)
    top = np.argsort(-score, kind="stable")[:5]
    grid_w = size // 8
    box = gfl_boxes(reg, top, 8, size)
    cells = [{"cell": int(i), "row": int(i // grid_w), "col": int(i % grid_w), "score": f32(score[i]),
              "class": int(cls[i].argmax()), "box_input_px": [round(float(v), 4) for v in box[k]],
              "regression": [f32(v) for v in reg[i]]} for k, i in enumerate(top)]
    return {"stride": 8, "grid": [grid_w, grid_w], "regression_layout": "left, top, right, bottom x 11 bins",
            "cells": cells}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("tests/data/golden"))
    ap.add_argument("--models", type=Path, default=Path("models"), help="directory with the .onnx files and coco80.txt")
    ap.add_argument("--media", type=Path, default=Path(".deps/media"))
    ap.add_argument("--images", nargs="+", default=IMAGES)
    ap.add_argument("--raw-image", default="dog.jpg", help="image whose raw model output is also written")
    args = ap.parse_args()

    names = (args.models / "coco80.txt").read_text().splitlines()[:80]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # deterministic reductions
    for model, cfg in MODELS.items():
        path = args.models / cfg["file"]
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        if model == "nanodet":
            for s, (c, r) in nanodet_outputs(session).items():
                print(f"nanodet stride {s}: scores {c}, regression {r}")
        model_sha = sha256(path)
        size = cfg["size"]
        for image in args.images:
            ipath = args.media / image
            src, rgb = load_resized(ipath, size)
            raw = run(model, session, preprocess(model, rgb))
            dets = postprocess(*decode(model, raw, size, cfg["score_threshold"]), src, size,
                               cfg["score_threshold"], cfg["nms"], cfg["iou_threshold"])
            stem = Path(image).stem
            head = {"about": f"Reference detections made by scripts/golden.py: {cfg['about']}",
                    "generator": "scripts/golden.py", "onnxruntime": ort.__version__,
                    "model": cfg["file"], "model_sha256": model_sha,
                    "image": image, "image_sha256": sha256(ipath), "image_size": list(src)}
            dump({**head, "score_threshold": cfg["score_threshold"], "nms": cfg["nms"],
                  "iou_threshold": cfg["iou_threshold"],
                  "detections": [{"class": names[c], "class_id": c, "score": round(s, 4),
                                  "box": [round(v, 2) for v in b]} for s, c, b in dets]},
                 args.out / model / f"{stem}.json")
            print(f"{model:9s} {image:12s} " + ", ".join(f"{names[c]} {s:.2f}" for s, c, _ in dets))
            if image == args.raw_image:
                dump({**head, "about": f"Raw {model} output on {image} after scripts/golden.py preprocessing",
                      **raw_record(model, raw, size)}, args.out / model / f"{stem}.raw.json")


if __name__ == "__main__":
    main()
