#!/usr/bin/env python3
"""Trains the trucks' obstacle detector (a small CenterNet-style BEV conv net) in plain numpy
and exports it as ONNX (opset 17) for the `npu` crate's importer.

    python3 perception/train/train.py --data DIR --out assets/models/detector.onnx \
        --epochs 30 --seed 1 [--holdout-seeds 100 101 ...] [--gradcheck]

Input  `bev`     float32 [N, 4, 64, 80]  (perception/src/bev.rs, BevSpec::default)
Output `heatmap` float32 [N, 4, 32, 40]  Sigmoid, one channel per ObstacleClass (rock,
                                          light_vehicle, person, machine)
Output `boxes`   float32 [N, 4, 32, 40]  0,1: Sigmoid offset of the centre in its cell along
                                          x, y; 2,3: ln(length), ln(width) of the axis-aligned
                                          footprint in the truck frame (raw)
Output cell (iy, ix) covers x in [-8 + 2 ix, -6 + 2 ix), y in [-32 + 2 iy, -30 + 2 iy).

Deterministic: same data, seed and arguments give the same weights (numpy only; BLAS
thread count should be fixed, e.g. OPENBLAS_NUM_THREADS=1, for bit-identical results across
machines). See README.md for the decoding rule and the metric.
"""
import argparse
import json
import os
import sys
import time

# Single-threaded BLAS: deterministic, and on 2 cores much faster than OpenBLAS' own threads
# for these small matrices. Set before numpy loads; an explicit environment value wins.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

CLASSES = ["rock", "light_vehicle", "person", "machine"]
CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}
X_MIN, Y_MIN = -8.0, -32.0
OUT_CELL = 2.0
IN_C, IN_H, IN_W = 4, 64, 80
OH, OW = 32, 40
EVAL_RANGE = 60.0


# ---------------------------------------------------------------------------------------------
# Model: layers hold weights [O, C, k, k] and biases [O]; activations are kept as [C, N, H, W]
# internally (so im2col is one matmul without transposes).

def arch(width):
    """(name, in, out, k, stride, dilation, relu) of each conv of the trunk."""
    return [
        ("conv1", IN_C, 8, 3, 2, 1),
        ("conv2", 8, width, 3, 1, 1),
        ("conv3", width, width, 3, 1, 2),
        ("conv4", width, width, 3, 1, 4),
    ]


def init_params(rng, width):
    p = {}
    for name, c, o, k, _, _ in arch(width):
        std = np.sqrt(2.0 / (c * k * k))  # He
        p[name + ".w"] = (rng.standard_normal((o, c, k, k)) * std).astype(np.float32)
        p[name + ".b"] = np.zeros(o, np.float32)
    for name, o in [("hm", 4), ("off", 2), ("size", 2)]:
        std = np.sqrt(1.0 / width)
        p[name + ".w"] = (rng.standard_normal((o, width, 1, 1)) * std).astype(np.float32)
        p[name + ".b"] = np.zeros(o, np.float32)
    p["hm.b"][:] = -2.19  # prior 0.1 (CenterNet)
    p["size.b"][:] = 1.0
    return p


def conv_fwd(x, w, b, stride, dil):
    """x [C, N, H, W] -> y [O, N, Ho, Wo], 'same'-style padding dil*(k-1)/2."""
    o, c, k, _ = w.shape
    pad = dil * (k - 1) // 2
    C, N, H, W = x.shape
    Ho = (H + 2 * pad - dil * (k - 1) - 1) // stride + 1
    Wo = (W + 2 * pad - dil * (k - 1) - 1) // stride + 1
    if k == 1 and stride == 1:
        cols = x.reshape(C, -1)
        y = w.reshape(o, c) @ cols + b[:, None]
        return y.reshape(o, N, Ho, Wo), (cols, x.shape, pad, Ho, Wo)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = np.empty((C, k * k, N, Ho, Wo), x.dtype)
    for ky in range(k):
        for kx in range(k):
            y0, x0 = ky * dil, kx * dil
            cols[:, ky * k + kx] = xp[:, :, y0:y0 + stride * (Ho - 1) + 1:stride,
                                      x0:x0 + stride * (Wo - 1) + 1:stride]
    cols = cols.reshape(C * k * k, -1)
    y = w.reshape(o, -1) @ cols + b[:, None]
    return y.reshape(o, N, Ho, Wo), (cols, x.shape, pad, Ho, Wo)


def conv_bwd(dy, w, cache, stride, dil, need_dx=True):
    cols, xshape, pad, Ho, Wo = cache
    o, c, k, _ = w.shape
    dy2 = dy.reshape(o, -1)
    dw = (dy2 @ cols.T).reshape(w.shape)
    db = dy2.sum(axis=1)
    if not need_dx:
        return None, dw, db
    dcols = w.reshape(o, -1).T @ dy2
    C, N, H, W = xshape
    if k == 1 and stride == 1:
        return dcols.reshape(xshape), dw, db
    dcols = dcols.reshape(C, k * k, N, Ho, Wo)
    dxp = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dy.dtype)
    for ky in range(k):
        for kx in range(k):
            y0, x0 = ky * dil, kx * dil
            dxp[:, :, y0:y0 + stride * (Ho - 1) + 1:stride,
                x0:x0 + stride * (Wo - 1) + 1:stride] += dcols[:, ky * k + kx]
    dx = dxp[:, :, pad:pad + H, pad:pad + W] if pad else dxp
    return dx, dw, db


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(p, x_nchw, width, keep=False):
    """Returns logits (hm [4,N,32,40], off [2,...], size [2,...]) in CNHW and caches."""
    h = np.ascontiguousarray(x_nchw.transpose(1, 0, 2, 3))
    caches = []
    for name, _, _, _, s, d in arch(width):
        z, cache = conv_fwd(h, p[name + ".w"], p[name + ".b"], s, d)
        h = np.maximum(z, 0.0)
        caches.append((name, s, d, cache, z if keep else None))
    feat = h
    heads = {}
    for name in ["hm", "off", "size"]:
        heads[name], c = conv_fwd(feat, p[name + ".w"], p[name + ".b"], 1, 1)
        caches.append((name, 1, 1, c, None))
    return heads, caches


def backward(p, caches, dheads, width):
    g = {}
    dfeat = None
    for name, _, _, cache, _ in caches[-3:]:
        dx, g[name + ".w"], g[name + ".b"] = conv_bwd(dheads[name], p[name + ".w"], cache, 1, 1)
        dfeat = dx if dfeat is None else dfeat + dx
    dh = dfeat
    for i in range(len(caches) - 4, -1, -1):
        name, s, d, cache, z = caches[i]
        dz = dh * (z > 0)
        dh, g[name + ".w"], g[name + ".b"] = conv_bwd(dz, p[name + ".w"], cache, s, d,
                                                    need_dx=i > 0)
    return g


def predict(p, x, width, batch=64):
    """NCHW outputs (heatmap, boxes) as the ONNX model gives them."""
    hms, bxs = [], []
    for i in range(0, len(x), batch):
        heads, _ = forward(p, x[i:i + batch], width)
        hm = sigmoid(heads["hm"])
        bx = np.concatenate([sigmoid(heads["off"]), heads["size"]], axis=0)
        hms.append(hm.transpose(1, 0, 2, 3))
        bxs.append(bx.transpose(1, 0, 2, 3))
    return np.concatenate(hms), np.concatenate(bxs)


def flops(width):
    macs = 0
    for _, c, o, k, _, _ in arch(width):
        macs += OH * OW * o * c * k * k
    macs += OH * OW * width * (4 + 2 + 2)
    return 2 * macs


# ---------------------------------------------------------------------------------------------
# Data and targets

def load(d):
    bev = np.load(os.path.join(d, "bev.npy"), mmap_mode="r")
    with open(os.path.join(d, "labels.jsonl")) as f:
        labels = [json.loads(line) for line in f if line.strip()]
    if bev.shape[0] != len(labels) or tuple(bev.shape[1:]) != (IN_C, IN_H, IN_W):
        sys.exit(f"bev.npy {bev.shape} does not match {len(labels)} labels / [4, 64, 80]")
    return np.asarray(bev, np.float32), labels


def footprint(o):
    c, s = abs(np.cos(o["yaw"])), abs(np.sin(o["yaw"]))
    return o["length"] * c + o["width"] * s, o["length"] * s + o["width"] * c


def flip_labels(lab):
    l2 = dict(lab)
    l2["objects"] = [dict(o, y=-o["y"], yaw=-o["yaw"]) for o in lab["objects"]]
    return l2


def targets(lab):
    """hm [4, 32, 40]; reg mask [32, 40]; reg targets [4, 32, 40] (off x, off y, ln l, ln w)."""
    hm = np.zeros((4, OH, OW), np.float32)
    mask = np.zeros((OH, OW), np.float32)
    reg = np.zeros((4, OH, OW), np.float32)
    gy, gx = np.mgrid[0:OH, 0:OW]
    for o in lab["objects"]:
        if o.get("points", 0) < 2 or o["class"] not in CLASSES:
            continue
        fx, fy = (o["x"] - X_MIN) / OUT_CELL, (o["y"] - Y_MIN) / OUT_CELL
        ix, iy = int(np.floor(fx)), int(np.floor(fy))
        if not (0 <= ix < OW and 0 <= iy < OH):
            continue
        la, wa = footprint(o)
        sx, sy = max(0.8, la / OUT_CELL / 6), max(0.8, wa / OUT_CELL / 6)
        g = np.exp(-0.5 * (((gx - ix) / sx) ** 2 + ((gy - iy) / sy) ** 2))
        c = CLASSES.index(o["class"])
        hm[c] = np.maximum(hm[c], g)
        hm[c, iy, ix] = 1.0
        mask[iy, ix] = 1.0
        reg[:, iy, ix] = [fx - ix, fy - iy, np.log(max(la, 0.1)), np.log(max(wa, 0.1))]
    return hm, mask, reg


def build_targets(labels):
    out = [targets(l) for l in labels]
    return (np.stack([o[0] for o in out]), np.stack([o[1] for o in out]),
            np.stack([o[2] for o in out]))


# ---------------------------------------------------------------------------------------------
# Loss

W_OFF, W_SIZE = 1.0, 0.5


def loss_and_grads(heads, hm_t, mask, reg_t):
    """Targets NCHW; heads CNHW logits. Returns loss, parts, d(heads)."""
    hm_t = hm_t.transpose(1, 0, 2, 3)
    reg_t = reg_t.transpose(1, 0, 2, 3)
    mask = mask[None].transpose(0, 1, 2, 3)  # [1, N, H, W]
    z = heads["hm"]
    pr = np.clip(sigmoid(z), 1e-4, 1 - 1e-4)
    pos = hm_t >= 1.0
    npos = max(1.0, float(pos.sum()))
    neg_w = (1 - hm_t) ** 4
    lpos = -((1 - pr) ** 2) * np.log(pr)
    lneg = -neg_w * pr ** 2 * np.log(1 - pr)
    l_hm = (np.where(pos, lpos, lneg)).sum() / npos
    gpos = (1 - pr) ** 2 * (2 * pr * np.log(pr) - (1 - pr))
    gneg = neg_w * pr ** 2 * (pr - 2 * (1 - pr) * np.log(1 - pr))
    d_hm = np.where(pos, gpos, gneg) / npos

    m = mask[0] > 0
    nm = max(1.0, float(m.sum()))
    so = sigmoid(heads["off"])
    diff_o = so - reg_t[:2]
    l_off = (np.abs(diff_o) * m).sum() / nm
    d_off = W_OFF * np.sign(diff_o) * m * so * (1 - so) / nm
    diff_s = heads["size"] - reg_t[2:]
    l_size = (np.abs(diff_s) * m).sum() / nm
    d_size = W_SIZE * np.sign(diff_s) * m / nm
    loss = l_hm + W_OFF * l_off + W_SIZE * l_size
    f32 = lambda a: a.astype(z.dtype)
    return loss, (l_hm, l_off, l_size), {"hm": f32(d_hm), "off": f32(d_off), "size": f32(d_size)}


# ---------------------------------------------------------------------------------------------
# Decoding and metrics (README.md describes the same rule for the Rust side)

def maxpool3(a):
    """3x3 max pool, stride 1, pad 1 (padding never wins) over the last two axes."""
    p = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)], constant_values=-np.inf)
    H, W = a.shape[-2:]
    m = a.copy()
    for dy in range(3):
        for dx in range(3):
            m = np.maximum(m, p[..., dy:dy + H, dx:dx + W])
    return m


DECODES = ("per-class", "max-class")


def decode(hm, bx, thr, mode="per-class"):
    """hm [4, 32, 40], bx [4, 32, 40] -> list of (class, score, x, y, length, width).
    per-class: 3x3 peaks on each class channel. max-class: 3x3 peaks on the max over classes,
    class = argmax (one detection per peak whatever the class: cross-class suppression)."""
    if mode == "max-class":
        s = hm.max(axis=0)
        cls = hm.argmax(axis=0)
        iy, ix = np.nonzero((s == maxpool3(s)) & (s >= thr))
        cells = zip(cls[iy, ix], iy, ix)
    else:
        cells = zip(*np.nonzero((hm == maxpool3(hm)) & (hm >= thr)))
    dets = []
    for c, iy, ix in cells:
        x = X_MIN + OUT_CELL * (ix + bx[0, iy, ix])
        y = Y_MIN + OUT_CELL * (iy + bx[1, iy, ix])
        dets.append((int(c), float(hm[c, iy, ix]), float(x), float(y),
                     float(np.exp(bx[2, iy, ix])), float(np.exp(bx[3, iy, ix]))))
    return dets


def eligible(o):
    return (max(o["length"], o["width"]) >= 1.0 and np.hypot(o["x"], o["y"]) <= EVAL_RANGE
            and o.get("points", 0) >= 2)


def match(dets, objs, class_aware=True):
    """Greedy by confidence, same class (unless not class_aware), centre distance <= max(1.5, 0.5 length).
    Returns per-truth matched flags and per-detection status: 'tp', 'fp', or 'ignore'."""
    used = [False] * len(objs)
    status = []
    for d in sorted(dets, key=lambda d: -d[1]):
        c, _, x, y = d[:4]
        best, bd = -1, np.inf
        for j, o in enumerate(objs):
            if used[j] or (class_aware and CLASS_INDEX.get(o["class"], -1) != c):
                continue
            dist = np.hypot(x - o["x"], y - o["y"])
            if dist <= max(1.5, 0.5 * o["length"]) and dist < bd:
                best, bd = j, dist
        inside = np.hypot(x, y) <= EVAL_RANGE
        if best >= 0:
            used[best] = True
            st = "tp" if eligible(objs[best]) else "ignore"
        else:
            st = "fp"
        status.append((d, st if inside else "ignore"))
    return used, status


def dust_bin(d):
    if d <= 0:
        return "dust=0"
    if d <= 0.3:
        return "dust<=0.3"
    if d <= 0.6:
        return "dust<=0.6"
    return "dust<=1"


def range_bin(r):
    return "0-20m" if r < 20 else ("20-40m" if r < 40 else "40-60m")


def evaluate(hm, bx, labels, thr, class_aware=True, mode="per-class"):
    """Counts by group; group keys: all, range bins, dust bins, sensing, class, clear-air."""
    acc = {}

    def add(key, field, n=1):
        a = acc.setdefault(key, {"truths": 0, "found": 0, "tp": 0, "fp": 0})
        a[field] += n

    for k, lab in enumerate(labels):
        dets = decode(hm[k], bx[k], thr, mode)
        objs = lab["objects"]
        used, status = match(dets, objs, class_aware)
        groups = ["all", dust_bin(lab.get("dust", 0.0)), "sensing=" + str(lab.get("sensing"))]
        if lab.get("dust", 0.0) <= 0:
            groups.append("clear:" + str(lab.get("sensing")))
        for j, o in enumerate(objs):
            if not eligible(o):
                continue
            gs = groups + [range_bin(np.hypot(o["x"], o["y"])), "class=" + o["class"]]
            for g in gs:
                add(g, "truths")
                if used[j]:
                    add(g, "found")
        for d, st in status:
            if st == "ignore":
                continue
            gs = groups + [range_bin(np.hypot(d[2], d[3])), "class=" + CLASSES[d[0]]]
            for g in gs:
                add(g, st)
    out = {}
    for key, a in acc.items():
        rec = a["found"] / a["truths"] if a["truths"] else None
        prec = a["tp"] / (a["tp"] + a["fp"]) if a["tp"] + a["fp"] else None
        out[key] = dict(a, recall=rec, precision=prec)
    return out


def fmt(v):
    return "  -  " if v is None else f"{v:.3f}"


ORDER = ["all", "dust=0", "dust<=0.3", "dust<=0.6", "dust<=1", "0-20m", "20-40m", "40-60m",
         "sensing=fleet", "sensing=raycast", "clear:fleet", "clear:raycast"] + \
        ["class=" + c for c in CLASSES]


def print_metrics(m):
    print(f"    {'group':<18} {'truths':>6} {'recall':>7} {'dets':>6} {'precision':>9}")
    for key in ORDER:
        if key in m:
            a = m[key]
            print(f"    {key:<18} {a['truths']:>6} {fmt(a['recall']):>7} {a['tp'] + a['fp']:>6}"
                  f" {fmt(a['precision']):>9}")


# ---------------------------------------------------------------------------------------------
# ONNX export

def export_onnx(p, width, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []

    def conv(name, x, y, k, s, d):
        pad = d * (k - 1) // 2
        inits.append(numpy_helper.from_array(p[name + ".w"], name + ".w"))
        inits.append(numpy_helper.from_array(p[name + ".b"], name + ".b"))
        nodes.append(helper.make_node(
            "Conv", [x, name + ".w", name + ".b"], [y], name=name, kernel_shape=[k, k],
            strides=[s, s], dilations=[d, d], pads=[pad, pad, pad, pad], group=1))

    h = "bev"
    for name, _, _, k, s, d in arch(width):
        conv(name, h, name + ".z", k, s, d)
        nodes.append(helper.make_node("Relu", [name + ".z"], [name + ".a"], name=name + ".relu"))
        h = name + ".a"
    conv("hm", h, "hm.z", 1, 1, 1)
    nodes.append(helper.make_node("Sigmoid", ["hm.z"], ["heatmap"], name="hm.sigmoid"))
    conv("off", h, "off.z", 1, 1, 1)
    nodes.append(helper.make_node("Sigmoid", ["off.z"], ["off.s"], name="off.sigmoid"))
    conv("size", h, "size.z", 1, 1, 1)
    nodes.append(helper.make_node("Concat", ["off.s", "size.z"], ["boxes"], name="boxes", axis=1))
    graph = helper.make_graph(
        nodes, "minesim_detector",
        [helper.make_tensor_value_info("bev", TensorProto.FLOAT, ["N", IN_C, IN_H, IN_W])],
        [helper.make_tensor_value_info("heatmap", TensorProto.FLOAT, ["N", 4, OH, OW]),
         helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", 4, OH, OW])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="minesim perception/train/train.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    onnx.save(model, path)
    return model


def verify_onnx(model, p, width, x):
    from onnx.reference import ReferenceEvaluator
    sess = ReferenceEvaluator(model)
    hm_o, bx_o = sess.run(None, {"bev": x})
    hm_n, bx_n = predict(p, x, width)
    return float(max(np.abs(hm_o - hm_n).max(), np.abs(bx_o - bx_n).max()))


# ---------------------------------------------------------------------------------------------
# Gradient check

def gradcheck(width, rng):
    p = {k: v.astype(np.float64) for k, v in init_params(rng, width).items()}
    for k in p:  # larger head weights so every term is exercised
        if k.endswith(".w") and k.split(".")[0] in ("hm", "off", "size"):
            p[k] *= 10
    x = rng.random((2, IN_C, IN_H, IN_W))
    lab = {"objects": [
        {"class": "machine", "x": 20.3, "y": 3.1, "length": 13, "width": 7, "yaw": 0.3, "points": 50},
        {"class": "rock", "x": 5.7, "y": -10.2, "length": 1.2, "width": 1, "yaw": 1.0, "points": 5}]}
    hm_t, mask, reg_t = build_targets([lab, flip_labels(lab)])

    def f(pp):
        heads, caches = forward(pp, x, width, keep=True)
        loss, _, dh = loss_and_grads(heads, hm_t, mask, reg_t)
        return loss, heads, caches, dh

    loss, heads, caches, dh = f(p)
    g = backward(p, caches, dh, width)
    worst = 0.0
    eps = 1e-5
    for k in sorted(p):
        for _ in range(3):
            idx = tuple(int(rng.integers(0, s)) for s in p[k].shape)
            old = p[k][idx]
            p[k][idx] = old + eps
            lp = f(p)[0]
            p[k][idx] = old - eps
            lm = f(p)[0]
            p[k][idx] = old
            num = (lp - lm) / (2 * eps)
            rel = abs(num - g[k][idx]) / max(1e-6, abs(num) + abs(g[k][idx]))
            worst = max(worst, rel)
            print(f"    {k:<8} {str(idx):<16} analytic {g[k][idx]: .6e} numeric {num: .6e} rel {rel:.1e}")
    print(f"gradcheck: worst relative error {worst:.2e} ({'ok' if worst < 1e-3 else 'FAIL'})")
    return worst < 1e-3


# ---------------------------------------------------------------------------------------------

def held_out_report(hm, bx, lab_te, threshold):
    """Sweep of thresholds x decodings x matchings; full tables at `threshold` for the
    contract decoding (per-class peaks, class-aware match) and for max-class peaks with
    class-agnostic matching."""
    combos = [(d, m) for d in DECODES for m in ("class", "any")]
    sweep = {}
    print("held-out sweep (decode / match: dust=0 recall precision | all recall precision):")
    for thr in sorted({0.2, 0.3, 0.4, 0.5, threshold}):
        for d, mt in combos:
            r = evaluate(hm, bx, lab_te, thr, class_aware=mt == "class", mode=d)
            sweep[f"{thr}/{d}/{mt}"] = r
            a, c = r.get("all", {}), r.get("dust=0", {})
            print(f"  @ {thr:.2f} {d:>9} / {mt:<5}: dust=0 {fmt(c.get('recall'))} "
                  f"{fmt(c.get('precision'))} | all {fmt(a.get('recall'))} {fmt(a.get('precision'))}")
    print(f"held-out metrics at threshold {threshold}, per-class peaks, class-aware match "
          f"(eligible: max(l,w) >= 1 m, range <= 60 m, points >= 2):")
    metrics = sweep[f"{threshold}/per-class/class"]
    print_metrics(metrics)
    print(f"held-out metrics at threshold {threshold}, max-class peaks, class-agnostic match:")
    metrics_any = sweep[f"{threshold}/max-class/any"]
    print_metrics(metrics_any)
    brief = {k: {g: {"recall": v[g]["recall"], "precision": v[g]["precision"]}
                 for g in ("all", "dust=0") if g in v} for k, v in sweep.items()}
    return metrics, metrics_any, brief


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=False, help="dataset directory (bev.npy, labels.jsonl)")
    ap.add_argument("--out", default="assets/models/detector.onnx")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--holdout-seeds", type=int, nargs="*", default=None,
                    help="scenario seeds held out for evaluation (default: seeds >= 100)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--width", type=int, default=12, help="channels of conv2..conv4")
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--eval", metavar="ONNX", help="only evaluate this exported model on the held-out split")
    ap.add_argument("--gradcheck", action="store_true", help="finite-difference check and exit")
    args = ap.parse_args()

    if args.gradcheck:
        ok = gradcheck(4, np.random.default_rng(args.seed))
        sys.exit(0 if ok else 1)
    if not args.data:
        ap.error("--data is required")

    if args.eval:
        import onnx
        from onnx import numpy_helper
        m = onnx.load(args.eval)
        p = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
        width = p["conv2.w"].shape[0]
        bev, labels = load(args.data)
        hold = (set(args.holdout_seeds) if args.holdout_seeds is not None
                else {l["seed"] for l in labels if l["seed"] >= 100})
        te_idx = [i for i, l in enumerate(labels) if l["seed"] in hold]
        hm, bx = predict(p, bev[te_idx], width)
        held_out_report(hm, bx, [labels[i] for i in te_idx], args.threshold)
        return

    t0 = time.time()
    rng = np.random.default_rng(args.seed)
    fl = flops(args.width)
    print(f"model: {fl / 1e6:.2f} MFLOP per sample (2 x MACs)")
    bev, labels = load(args.data)
    hold = (set(args.holdout_seeds) if args.holdout_seeds is not None
            else {l["seed"] for l in labels if l["seed"] >= 100})
    te = np.array([l["seed"] in hold for l in labels])
    tr_idx, te_idx = np.nonzero(~te)[0], np.nonzero(te)[0]
    print(f"data: {len(labels)} samples, {len(tr_idx)} train, {len(te_idx)} held out "
          f"({len(hold)} held-out seeds)")
    if len(tr_idx) == 0 or len(te_idx) == 0:
        sys.exit("empty train or held-out split")
    x_tr = bev[tr_idx]
    lab_tr = [labels[i] for i in tr_idx]
    x_te = bev[te_idx]
    lab_te = [labels[i] for i in te_idx]
    tg = build_targets(lab_tr)
    tg_f = build_targets([flip_labels(l) for l in lab_tr])

    p = init_params(rng, args.width)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    b1, b2, step = 0.9, 0.999, 0
    n = len(tr_idx)
    steps_total = args.epochs * ((n + args.batch - 1) // args.batch)
    curve = []
    for ep in range(args.epochs):
        perm = rng.permutation(n)
        flip = rng.random(n) < 0.5
        tot, parts, nb = 0.0, np.zeros(3), 0
        for i in range(0, n, args.batch):
            bi = perm[i:i + args.batch]
            fb = flip[i:i + args.batch]
            xb = x_tr[bi].copy()
            xb[fb] = xb[fb][:, :, ::-1, :]
            tb = [np.where(fb.reshape((-1,) + (1,) * (a.ndim - 1)), af[bi], a[bi])
                  for a, af in zip(tg, tg_f)]
            heads, caches = forward(p, xb, args.width, keep=True)
            loss, pt, dh = loss_and_grads(heads, *tb)
            g = backward(p, caches, dh, args.width)
            step += 1
            lr = args.lr * 0.5 * (1 + np.cos(np.pi * step / steps_total))  # cosine decay
            for k in p:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                mh = m[k] / (1 - b1 ** step)
                vh = v[k] / (1 - b2 ** step)
                p[k] = (p[k] - lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
            tot += float(loss)
            parts += np.array(pt, np.float64)
            nb += 1
        curve.append(round(float(tot) / nb, 5))
        print(f"epoch {ep + 1:3d}/{args.epochs} loss {tot / nb:.4f} (hm {parts[0] / nb:.4f} "
              f"off {parts[1] / nb:.4f} size {parts[2] / nb:.4f}) {time.time() - t0:6.1f}s",
              flush=True)
        if ep == 0 and args.epochs > 1:
            print(f"  (estimated {(time.time() - t0) * args.epochs:.0f}s for {args.epochs} epochs)",
                  flush=True)
    t_train = time.time() - t0

    hm, bx = predict(p, x_te, args.width)
    metrics, metrics_any, sweep = held_out_report(hm, bx, lab_te, args.threshold)

    model = export_onnx(p, args.width, args.out)
    diff = verify_onnx(model, p, args.width, np.ascontiguousarray(x_te[:4]))
    print(f"onnx: wrote {args.out}; ReferenceEvaluator vs numpy max abs diff {diff:.2e} "
          f"({'ok' if diff < 1e-4 else 'FAIL'})")
    report = {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "seed": args.seed, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
        "width": args.width, "data": os.path.abspath(args.data),
        "samples": {"total": len(labels), "train": int(len(tr_idx)), "holdout": int(len(te_idx))},
        "holdout_seeds": sorted(int(s) for s in hold),
        "loss_curve": curve, "train_seconds": round(t_train, 1),
        "threshold": args.threshold, "metrics": metrics, "metrics_max_class_any_match": metrics_any,
        "sweep": sweep,
        "flops_per_sample": fl, "onnx_max_abs_diff": diff,
    }
    jpath = os.path.splitext(args.out)[0] + ".train.json"
    with open(jpath, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {jpath}; training took {t_train:.1f}s")
    if diff >= 1e-4:
        sys.exit("ONNX output does not match the numpy forward")


if __name__ == "__main__":
    main()
