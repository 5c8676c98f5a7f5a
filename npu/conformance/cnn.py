#!/usr/bin/env python3
"""The standard CNN classifiers that ship in the `onnx` package (backend/test/data/light:
ResNet-50, DenseNet-121, Inception v1/v2, SqueezeNet, ShuffleNet, VGG-19, ZFNet-512,
AlexNet) through `npu run-onnx` for ascend310 at fp32, against onnx.reference.

The files carry no input (only `light_*_output_0.pb`, whose input is unknown), so each model
gets one deterministic image (numpy seed 0, N(0,1), shape of the declared input). The models
are opset 9: they are converted with onnx.version_converter to opset 11 for the NPU and to
opset 15 for the reference (onnx.reference's BatchNormalization below opset 14 normalises
with batch statistics).

The light models carry no trained weights: every weight is a `ConstantOfShape` filled with
0.02, so their output is nearly uniform. Each model is therefore checked twice: as shipped
(the NPU folds the ConstantOfShape nodes at import) and with the weights replaced by
deterministic random initializers (seed 1: He-normal for conv/FC weights `*_w_*`,
0.02 * U(0.5, 1.5) for the rest, so BN variances stay positive). Match: |got - want| <= 1e-5 + 1e-4 * |want| on every output value.
Then prints `npu latency` (cost model, every device profile).

Usage: cnn.py --npu PATH [--models resnet50,squeezenet,...] [--latency]
Exit status non-zero if a model is refused, differs or crashes.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import version_converter
from onnx.reference import ReferenceEvaluator

RTOL, ATOL = 1e-4, 1e-5
DEFAULT = "resnet50,densenet121,inception_v1,squeezenet"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--npu", required=True)
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--latency", action="store_true")
    a = ap.parse_args()
    root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models.split(","):
            m = onnx.load(os.path.join(root, f"light_{name}.onnx"))
            inp = [i for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}][0]
            shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            for variant in ("shipped", "random"):
                bad += check(a, tmp, name, m if variant == "shipped" else randomize(m), variant, inp, x)
    return 1 if bad else 0


def randomize(m):
    """Replaces every ConstantOfShape weight with a deterministic random initializer."""
    m = onnx.ModelProto.FromString(m.SerializeToString())
    rng = np.random.default_rng(1)
    inits = {t.name: t for t in m.graph.initializer}
    keep = []
    for n in m.graph.node:
        if n.op_type == "ConstantOfShape" and n.input[0] in inits:
            shape = list(onnx.numpy_helper.to_array(inits[n.input[0]]).astype(np.int64))
            if "_w_" in n.output[0] and len(shape) >= 2:
                fan_in = int(np.prod(shape[1:]))
                v = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
            else:
                v = 0.02 * rng.uniform(0.5, 1.5, shape)
            m.graph.initializer.append(onnx.numpy_helper.from_array(v.astype(np.float32), n.output[0]))
            # IR version 3: an initializer is also a graph input.
            m.graph.input.append(onnx.helper.make_tensor_value_info(
                n.output[0], onnx.TensorProto.FLOAT, [int(d) for d in shape]))
        else:
            keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


def check(a, tmp, name, m, variant, inp, x):
    if True:
        if True:
            m11 = version_converter.convert_version(m, 11)
            m15 = version_converter.convert_version(m, 15)
            p11 = os.path.join(tmp, f"{name}_{variant}.onnx")
            onnx.save(m11, p11)
            t0 = time.time()
            want = ReferenceEvaluator(m15).run(None, {inp.name: x})[0]
            t_ref = time.time() - t0
            xin = os.path.join(tmp, f"{name}_{variant}.in.npy")
            np.save(xin, x)
            out = os.path.join(tmp, f"{name}_{variant}")
            t0 = time.time()
            r = subprocess.run([a.npu, "run-onnx", p11, "--device", "ascend310", "--input",
                                f"{inp.name}={xin}", "--output", out], capture_output=True, text=True)
            t_npu = time.time() - t0
            if r.returncode != 0:
                print(f"FAIL {name} ({variant}): exit {r.returncode}: {r.stderr.strip()[-300:]}")
                return 1
            o = m.graph.output[0].name
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in o)
            got = np.load(os.path.join(out, safe + ".npy"))
            err = np.abs(got.astype(np.float64) - want.astype(np.float64))
            ok = got.shape == want.shape and bool(np.all(err <= ATOL + RTOL * np.abs(want)))
            lat = [l for l in r.stdout.splitlines() if l.startswith("latency")]
            print(f"{'match' if ok else 'DIFFER'} {name} ({variant} weights): output {list(got.shape)}, max abs err "
                  f"{err.max():.3g}, top-1 {int(np.argmax(got))} vs {int(np.argmax(want))}; "
                  f"npu {t_npu:.1f} s, reference {t_ref:.1f} s; {lat[0] if lat else ''}", flush=True)
            if a.latency and variant == "shipped":
                r = subprocess.run([a.npu, "latency", p11], capture_output=True, text=True)
                print(r.stdout if r.returncode == 0 else r.stderr)
            return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
