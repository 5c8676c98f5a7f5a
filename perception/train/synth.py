#!/usr/bin/env python3
"""Synthetic look-alike of a `minesim dataset` directory, for developing train.py before the
simulator's data exists. Not a substitute for it: geometry is simplified (flat ground, boxes,
one spinning lidar at 4 m, crude dust).

Writes DIR/bev.npy (float32 [N, 4, 64, 80]) and DIR/labels.jsonl (one JSON object per sample,
same fields as the simulator's writer).

    python3 perception/train/synth.py --out /tmp/synth --seeds 140 --frames 10
"""
import argparse
import json
import os

import numpy as np

# BevSpec::default and the channel scaling of perception/src/bev.rs.
X_MIN, Y_MIN, CELL, W, H = -8.0, -32.0, 1.0, 80, 64
H_SCALE, N_SCALE, ABOVE = 5.0, 64.0, 0.3
SENSOR_H = 4.0
CLASSES = ["rock", "light_vehicle", "person", "machine"]


def rasterise(x, y, h):
    fx = np.floor((x - X_MIN) / CELL)
    fy = np.floor((y - Y_MIN) / CELL)
    ok = (fx >= 0) & (fy >= 0) & (fx < W) & (fy < H)
    idx = (fy[ok] * W + fx[ok]).astype(np.int64)
    h = h[ok]
    n = np.bincount(idx, minlength=H * W).astype(np.float32)
    above = np.bincount(idx, weights=(h > ABOVE), minlength=H * W).astype(np.float32)
    hsum = np.bincount(idx, weights=h, minlength=H * W)
    hmax = np.full(H * W, -np.inf)
    np.maximum.at(hmax, idx, h)
    out = np.zeros((4, H * W), np.float32)
    m = n > 0
    hs = lambda v: np.clip(v, 0.0, H_SCALE) / H_SCALE
    ns = lambda c: np.minimum(np.log1p(c) / np.log1p(N_SCALE), 1.0)
    out[0, m] = hs(hmax[m])
    out[1, m] = hs(hsum[m] / n[m])
    out[2] = ns(n)
    out[3] = ns(above)
    return out.reshape(4, H, W)


def random_object(rng, cls):
    if cls == "rock":
        l = rng.uniform(0.5, 3.0)
        w = l * rng.uniform(0.6, 1.0)
        hgt = l * rng.uniform(0.4, 0.8)
    elif cls == "light_vehicle":
        l, w, hgt = rng.normal(5.5, 0.2), rng.normal(2.0, 0.08), rng.normal(1.9, 0.05)
    elif cls == "person":
        l, w, hgt = rng.uniform(0.5, 0.7), rng.uniform(0.5, 0.7), rng.uniform(1.6, 1.9)
    else:
        if rng.random() < 0.6:  # haul truck
            l, w, hgt = rng.uniform(12, 15), rng.uniform(6.5, 8.5), rng.uniform(6, 7.5)
        else:  # loader
            l, w, hgt = rng.uniform(9, 12), rng.uniform(3.5, 4.5), rng.uniform(4, 5)
    return dict(l=float(l), w=float(w), h=float(hgt))


def sample(rng, sensing, dust):
    n_obj = rng.integers(1, 9)
    objs = []
    tries = 0
    while len(objs) < n_obj and tries < 100:
        tries += 1
        cls = CLASSES[rng.choice(4, p=[0.35, 0.25, 0.2, 0.2])]
        o = random_object(rng, cls)
        x, y = rng.uniform(-6, 74), rng.uniform(-30, 30)
        if abs(x) < 8 and abs(y) < 4:  # the ego truck
            continue
        r = 0.5 * np.hypot(o["l"], o["w"])
        if any(np.hypot(x - p["x"], y - p["y"]) < r + p["r"] + 0.5 for p in objs):
            continue
        yaw = rng.uniform(-np.pi, np.pi)
        objs.append(dict(cls=cls, x=x, y=y, yaw=yaw, r=r, **o))

    n_az = 1024 if sensing == "raycast" else 640
    elev = np.deg2rad(np.linspace(-25.0, 4.0, 32))
    az = np.linspace(-np.pi, np.pi, n_az, endpoint=False) + rng.uniform(0, 2 * np.pi / n_az)
    E, A = np.meshgrid(elev, az, indexing="ij")
    E, A = E.ravel(), A.ravel()
    dx, dy, tz = np.cos(A), np.sin(A), np.tan(E)
    r_ground = np.where(tz < 0, SENSOR_H / np.maximum(-tz, 1e-9), np.inf)
    r_ground = np.minimum(r_ground, 150.0)
    best = r_ground.copy()
    hit = np.full(best.shape, -1)
    for k, o in enumerate(objs):
        c, s = np.cos(o["yaw"]), np.sin(o["yaw"])
        # ray origin and direction in the box frame
        ox, oy = -(c * o["x"] + s * o["y"]), -(-s * o["x"] + c * o["y"])
        ux, uy = c * dx + s * dy, -s * dx + c * dy
        with np.errstate(divide="ignore", invalid="ignore"):
            t1x, t2x = (-o["l"] / 2 - ox) / ux, (o["l"] / 2 - ox) / ux
            t1y, t2y = (-o["w"] / 2 - oy) / uy, (o["w"] / 2 - oy) / uy
        tmin = np.maximum(np.minimum(t1x, t2x), np.minimum(t1y, t2y))
        tmax = np.minimum(np.maximum(t1x, t2x), np.maximum(t1y, t2y))
        z = SENSOR_H + tmin * tz
        ok = (tmax >= tmin) & (tmin > 0) & (z >= 0) & (z <= o["h"]) & (tmin < best)
        # rays that enter through the top (steeply down onto a low object)
        ztop_t = (o["h"] - SENSOR_H) / np.where(tz < 0, tz, -1e-9)
        top = (tz < 0) & (SENSOR_H > o["h"]) & (ztop_t > tmin) & (ztop_t < tmax) & (z > o["h"]) & (ztop_t < best)
        best = np.where(ok, tmin, np.where(top, ztop_t, best))
        hit = np.where(ok | top, k, hit)
    valid = np.isfinite(best) & (best < 120)
    # dust: lost returns and near-range spurious ones
    keep = valid & (rng.random(best.shape) > 0.6 * dust * np.minimum(best / 60.0, 1.0))
    d, hk = best[keep], hit[keep]
    x, y = d * dx[keep], d * dy[keep]
    hgt = np.clip(SENSOR_H + d * tz[keep], 0.0, None) + rng.normal(0, 0.03, d.shape)
    points = [int(np.sum(hk == k)) for k in range(len(objs))]
    if dust > 0:
        nd = rng.poisson(dust * 400)
        rd = rng.uniform(3, 25, nd)
        ad = rng.uniform(-np.pi, np.pi, nd)
        x = np.concatenate([x, rd * np.cos(ad)])
        y = np.concatenate([y, rd * np.sin(ad)])
        hgt = np.concatenate([hgt, rng.uniform(0, 3, nd) * rng.random(nd)])
    bev = rasterise(x, y, hgt)
    labels = [
        dict(cls=o["cls"], x=o["x"], y=o["y"], length=o["l"], width=o["w"], height=o["h"],
             yaw=o["yaw"], points=p)
        for o, p in zip(objs, points)
    ]
    return bev, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, default=140, help="scenario seeds 0..S-1")
    ap.add_argument("--frames", type=int, default=10, help="samples per seed")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    bevs = []
    with open(os.path.join(args.out, "labels.jsonl"), "w") as f:
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            for k in range(args.frames):
                sensing = "raycast" if rng.random() < 0.5 else "fleet"
                dust = float(rng.choice([0.0, 0.0, 0.2, 0.5, 0.9]))
                bev, labels = sample(rng, sensing, dust)
                bevs.append(bev)
                rec = {"seed": seed, "truck": k % 3, "t_us": k * 100000, "sensing": sensing,
                       "dust": dust,
                       "objects": [{"class": l.pop("cls"), **l} for l in labels]}
                f.write(json.dumps(rec) + "\n")
    np.save(os.path.join(args.out, "bev.npy"), np.stack(bevs).astype(np.float32))
    print(f"wrote {len(bevs)} samples to {args.out}")


if __name__ == "__main__":
    main()
