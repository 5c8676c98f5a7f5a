#!/usr/bin/env python3
"""ONNX backend conformance for the `npu` crate.

Runs every case of the backend test data that ships inside the `onnx` PyPI package
(`onnx/backend/test/data/{pytorch-converted,pytorch-operator,simple}`: a `model.onnx` and
`test_data_set_N/{input,output}_K.pb` each) through `npu run-onnx` (import, compile for
ascend310 at fp32, execute) and compares with the expected outputs.

* A case older than opset 11 is converted to opset 11 with `onnx.version_converter`; a case
  at opset 11 or later runs as it ships.
* A converted case older than opset 7 gets its 1-D per-channel PRelu slopes reshaped to
  [C, 1, ...] (the converter leaves them 1-D, which stopped broadcasting at opset 7).
* Double inputs are fed as float32 (the NPU has no f64); bool outputs come back as 0/1 ints.
* Tolerance (fp32 against the reference, computed in the model's own type): a value matches
  when |got - want| <= atol + rtol * |want| with rtol 1e-4, atol 1e-5; integer and bool
  outputs must be equal.
* Verdicts: `pass`, `refused` (the CLI exits 2 with `error: ...`: a typed NpuError, the
  reason is printed), `wrong` (ran, but an output differs or is missing), `crash` (any other
  exit, e.g. a panic or a signal). `skip` for cases that are not numeric tensor programs
  (string or sequence inputs/outputs).

Exit status: non-zero if any case is wrong or crashed, or if the pass rate over the numeric
cases ("float cases": every case but the skipped ones) is below THRESHOLD.

Usage: run.py --npu PATH/TO/npu [--filter SUBSTR] [--verbose]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper, version_converter

THRESHOLD = 0.90
RTOL, ATOL = 1e-4, 1e-5
SUITES = ["pytorch-converted", "pytorch-operator", "simple"]
MIN_OPSET = 11


def data_root():
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


def default_opset(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return None


def is_numeric_tensor(vi):
    t = vi.type
    if not t.HasField("tensor_type"):
        return False
    return t.tensor_type.elem_type != onnx.TensorProto.STRING


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def close(got, want):
    if want.dtype == np.bool_ or np.issubdtype(want.dtype, np.integer):
        return got.shape == want.shape and np.array_equal(got.astype(np.int64), want.astype(np.int64))
    if got.shape != want.shape:
        return False
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    return bool(np.all((np.abs(g - w) <= ATOL + RTOL * np.abs(w)) | (np.isnan(g) & np.isnan(w))
                       | ((g == w))))


def fix_legacy_prelu(model):
    """Before opset 7 a 1-D PRelu slope of C values applied per channel (axis 1); since 7 the
    slope broadcasts numpy-style. onnx.version_converter keeps the 1-D slope, which no longer
    broadcasts against [N, C, ...]: reshape such initializers to [C, 1, ..., 1]."""
    inferred = onnx.shape_inference.infer_shapes(model)
    ranks = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            ranks[vi.name] = len(vi.type.tensor_type.shape.dim)
    inits = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type != "PRelu" or len(n.input) < 2 or n.input[1] not in inits:
            continue
        t = inits[n.input[1]]
        r = ranks.get(n.input[0])
        if len(t.dims) == 1 and t.dims[0] > 1 and r is not None and r >= 3:
            a = numpy_helper.to_array(t).reshape([t.dims[0]] + [1] * (r - 2))
            t.CopyFrom(numpy_helper.from_array(a, t.name))


def run_case(npu, case_dir, tmp):
    model = onnx.load(os.path.join(case_dir, "model.onnx"))
    g = model.graph
    init = {i.name for i in g.initializer}
    ins = [v for v in g.input if v.name not in init]
    if not all(is_numeric_tensor(v) for v in list(ins) + list(g.output)):
        return "skip", "string or sequence values"
    opset = default_opset(model)
    if opset is not None and opset < MIN_OPSET:
        try:
            model = version_converter.convert_version(model, MIN_OPSET)
        except Exception as e:  # the converter's own refusal
            return "refused", f"onnx.version_converter {opset}->{MIN_OPSET} failed: {str(e).splitlines()[0][:120]}"
        if opset < 7:
            fix_legacy_prelu(model)
    mpath = os.path.join(tmp, "model.onnx")
    onnx.save(model, mpath)
    sets = sorted(d for d in os.listdir(case_dir) if d.startswith("test_data_set_"))
    for s in sets:
        sd = os.path.join(case_dir, s)
        args = [npu, "run-onnx", mpath, "--output", os.path.join(tmp, s)]
        for k, v in enumerate(ins):
            p = os.path.join(sd, f"input_{k}.pb")
            if not os.path.exists(p):
                return "refused", f"missing input {k}"
            a = read_pb(p)
            if a.dtype == np.float64:
                big = np.isfinite(a) & (np.abs(a) > np.finfo(np.float32).max)
                if big.any():
                    return "refused", (f"input {k} holds float64 values beyond the float32 range "
                                       f"(e.g. {a[big].ravel()[0]:.3g}); the NPU computes in fp32")
                a = a.astype(np.float32)
            if a.dtype == np.bool_:
                a = a.astype(np.int8)
            npy = os.path.join(tmp, f"{s}_in{k}.npy")
            np.save(npy, a)
            args += ["--input", f"{v.name}={npy}"]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode == 2 and "error:" in r.stderr and "panicked" not in r.stderr:
            msg = r.stderr.strip().splitlines()[-1].replace("error: ", "", 1)
            return "refused", msg
        if r.returncode != 0:
            return "crash", f"exit {r.returncode}: {r.stderr.strip()[-300:]}"
        for k, v in enumerate(g.output):
            want = read_pb(os.path.join(sd, f"output_{k}.pb"))
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in v.name)
            op = os.path.join(tmp, s, safe + ".npy")
            if not os.path.exists(op):
                return "wrong", f"output {v.name} not written"
            got = np.load(op)
            if not close(got, want):
                if got.shape != want.shape:
                    return "wrong", f"{s} output {v.name}: shape {got.shape} != {want.shape}"
                err = np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))
                return "wrong", f"{s} output {v.name}: max abs err {err:.3g}"
    return "pass", ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--npu", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    root = data_root()
    counts = {"pass": 0, "refused": 0, "wrong": 0, "crash": 0, "skip": 0}
    lines = []
    with tempfile.TemporaryDirectory() as tmpd:
        for suite in SUITES:
            for case in sorted(os.listdir(os.path.join(root, suite))):
                if a.filter not in case:
                    continue
                cd = os.path.join(root, suite, case)
                tmp = os.path.join(tmpd, suite, case)
                os.makedirs(tmp, exist_ok=True)
                try:
                    verdict, why = run_case(a.npu, cd, tmp)
                except Exception as e:  # a runner problem counts as a crash
                    verdict, why = "crash", f"runner: {e}"
                counts[verdict] += 1
                line = f"{verdict:8} {suite}/{case}" + (f": {why}" if why else "")
                lines.append(line)
                print(line, flush=True)
    numeric = sum(counts[k] for k in ("pass", "refused", "wrong", "crash"))
    rate = counts["pass"] / numeric if numeric else 1.0
    print(
        f"\nconformance: {counts['pass']} pass, {counts['refused']} refused, "
        f"{counts['wrong']} wrong, {counts['crash']} crash, {counts['skip']} skipped "
        f"(not numeric tensors); pass rate {counts['pass']}/{numeric} = {rate:.1%} "
        f"(threshold {THRESHOLD:.0%})"
    )
    bad = counts["wrong"] + counts["crash"]
    if bad or (not a.filter and rate < THRESHOLD):
        print("conformance FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
