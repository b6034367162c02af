"""How fast and how lean is counting a big model? A report, not a test: it always exits 0.

Builds a VGG16-shaped model (13 conv 3x3 + bias + ReLU, 5 max-pools, FC 25088-4096-4096-1000:
138M parameters, 553 MB of float32) as ONNX and as OpenVINO IR, then times each of these in a fresh
Python process (peak RSS is then that of one measurement), a few times, and prints the medians:

  (a) openvino.Core().read_model(onnx)        what counting used to cost
  (b) onnx.load(onnx)                         the other obvious way
  (c) flopbench.count(onnx)                   the whole count, through the weight-free twin
  (d) flopbench.count(xml)                    the whole count of the IR (its .bin is mmapped)
  (e) weightless_twin + read_model(bytes)     the twin alone

Targets: (c)/(a) <= 0.5, (d) < 0.2 s, peak RSS of (c) and (d) < 1 GiB. Peak RSS is the child's
VmHWM (Linux; ru_maxrss elsewhere), which includes the interpreter and `import openvino`. The page cache is warmed
before measuring, so every measurement reads from memory, not from the disk. Every child imports
openvino (and numpy) before its clock starts; the RSS of that alone is printed as the baseline.

    python benchmarks/count_speed.py [--dir DIR] [--repeat N]

Built files are reused when --dir already holds them.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GIB_MB = 1024.0  # peak RSS target: 1 GiB, in MiB

# (out channels per conv, max-pool after the block)
VGG16_BLOCKS = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
FC = [(25088, 4096), (4096, 4096), (4096, 1000)]
INPUT_SHAPE = [1, 3, 224, 224]


def _layers():
    """(kind, weight shape, bias shape) in order; kind is conv or fc."""
    layers, channels = [], 3
    for block in VGG16_BLOCKS:
        for out in block:
            layers.append(("conv", (out, channels, 3, 3), (out,)))
            channels = out
        layers.append(("pool", None, None))
    for fan_in, fan_out in FC:
        layers.append(("fc", (fan_out, fan_in), (fan_out,)))  # Gemm transB=1 layout
    return layers


def _weights():
    """One random buffer, sliced for every tensor: generating 138M numbers once takes ~1 s."""
    import numpy as np

    shapes = [s for kind, w, b in _layers() if kind != "pool" for s in (w, b)]
    total = sum(int(np.prod(s)) for s in shapes)
    pool = (np.random.default_rng(0).standard_normal(total, dtype=np.float32) * 0.01)
    out, at = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(pool[at:at + n].reshape(shape))
        at += n
    return out, total


def build_onnx(path: Path) -> int:
    import onnx
    from onnx import TensorProto, helper

    arrays, total = _weights()
    nodes, inits, x, arrays_iter = [], [], "input", iter(arrays)
    for i, (kind, _, _) in enumerate(_layers()):
        if kind == "pool":
            nodes.append(helper.make_node("MaxPool", [x], [f"pool{i}"], kernel_shape=[2, 2], strides=[2, 2], name=f"pool{i}"))
            x = f"pool{i}"
            continue
        w, b = next(arrays_iter), next(arrays_iter)
        for name, array in ((f"{kind}{i}.weight", w), (f"{kind}{i}.bias", b)):
            inits.append(helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.tobytes(), raw=True))
        if kind == "fc" and x.startswith("pool"):
            nodes.append(helper.make_node("Flatten", [x], ["flatten"], axis=1, name="flatten"))
            x = "flatten"
        if kind == "conv":
            nodes.append(helper.make_node("Conv", [x, f"conv{i}.weight", f"conv{i}.bias"], [f"conv{i}"], pads=[1, 1, 1, 1], name=f"conv{i}"))
        else:
            nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [f"fc{i}"], transB=1, name=f"fc{i}"))
        if i != len(_layers()) - 1:
            nodes.append(helper.make_node("Relu", [nodes[-1].output[0]], [f"relu{i}"], name=f"relu{i}"))
        x = nodes[-1].output[0]
    nodes.append(helper.make_node("Softmax", [x], ["probs"], axis=1, name="softmax"))
    graph = helper.make_graph(nodes, "vgg16", [helper.make_tensor_value_info("input", TensorProto.FLOAT, INPUT_SHAPE)],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 1000])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="flopbench-benchmark")
    tmp = path.with_suffix(".onnx.tmp")
    with open(tmp, "wb") as handle:
        handle.write(model.SerializeToString())
    os.replace(tmp, path)
    return total


def build_ir(xml: Path) -> int:
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    arrays, total = _weights()
    arrays_iter = iter(arrays)
    x = ops.parameter(INPUT_SHAPE, ov.Type.f32, name="input")
    node, flat = x, False
    for i, (kind, _, _) in enumerate(_layers()):
        if kind == "pool":
            node = ops.max_pool(node, [2, 2], [1, 1], [0, 0], [0, 0], [2, 2], name=f"pool{i}").output(0)
            continue
        w, b = next(arrays_iter), next(arrays_iter)
        if kind == "conv":
            node = ops.convolution(node, ops.constant(w, name=f"conv{i}.weight"), [1, 1], [1, 1], [1, 1], [1, 1], name=f"conv{i}")
            node = ops.add(node, ops.constant(b.reshape(1, -1, 1, 1), name=f"conv{i}.bias"), name=f"conv{i}/bias")
        else:
            if not flat:
                node = ops.reshape(node, ops.constant(np.array([1, -1], dtype=np.int64)), special_zero=False, name="flatten")
                flat = True
            node = ops.matmul(node, ops.constant(w, name=f"fc{i}.weight"), False, True, name=f"fc{i}")
            node = ops.add(node, ops.constant(b, name=f"fc{i}.bias"), name=f"fc{i}/bias")
        if i != len(_layers()) - 1:
            node = ops.relu(node, name=f"relu{i}")
    result = ops.result(ops.softmax(node, 1, name="softmax"))
    model = ov.Model([result], [x], "vgg16")
    ov.save_model(model, str(xml), compress_to_fp16=False)
    return total


CHILD = r"""
import json, resource, sys, time
which, path = sys.argv[1], sys.argv[2]
import numpy
import openvino as ov
out = {}
def peak_mb():
    # VmHWM: the peak of this process image. ru_maxrss would do, but Linux carries it over from the
    # parent across fork+exec, so a child of a big parent would report the parent's peak.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
if which == "baseline":
    out["peak_mb"] = peak_mb()
    print(json.dumps(out)); sys.exit(0)
if which == "onnx_load":
    import onnx
if which in ("count_onnx", "count_ir"):
    import flopbench
    if not hasattr(flopbench, "count"):
        print(json.dumps({"unavailable": "flopbench.count not available yet"})); sys.exit(0)
if which == "twin":
    from flopbench.model.onnx_twin import weightless_twin
start = time.perf_counter()
if which == "read_model":
    model = ov.Core().read_model(path)
    out["ops"] = len(model.get_ops())
elif which == "onnx_load":
    model = onnx.load(path)
    out["ops"] = len(model.graph.node)
elif which in ("count_onnx", "count_ir"):
    cost = flopbench.count(path)
    out["total_flops"] = cost.total_flops
elif which == "twin":
    twin = weightless_twin(path)
    model = ov.Core().read_model(twin.model_bytes)
    out["ops"] = len(model.get_ops())
    out["twin_bytes"] = len(twin.model_bytes)
out["seconds"] = time.perf_counter() - start
out["peak_mb"] = peak_mb()
print(json.dumps(out))
"""


def run_child(which: str, path: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-c", CHILD, which, str(path)], capture_output=True, text=True, env=env, cwd=REPO)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail[:200]}"}
    return json.loads(lines[-1])


def measure(which: str, path: Path, repeat: int) -> dict:
    runs = [run_child(which, path) for _ in range(repeat)]
    bad = next((r for r in runs if "error" in r or "unavailable" in r), None)
    if bad is not None:
        return bad
    summary = {"seconds": statistics.median(r["seconds"] for r in runs), "peak_mb": statistics.median(r["peak_mb"] for r in runs),
               "all_seconds": [r["seconds"] for r in runs]}
    for key in ("total_flops", "twin_bytes", "ops"):
        if key in runs[0]:
            summary[key] = runs[0][key]
    return summary


def warm(paths) -> None:
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass


def _build_in_child(kind: str, path: Path) -> None:
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--build", kind, str(path)], check=True)
    print(f"built {path} in {time.perf_counter() - start:.1f} s")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--build"]:  # internal: python count_speed.py --build onnx|ir PATH
        params = (build_onnx if argv[1] == "onnx" else build_ir)(Path(argv[2]))
        print(f"{argv[2]}: {params / 1e6:.1f}M parameters")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to build (or find) vgg16.onnx and vgg16.xml/.bin; a temp dir by default")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported (default 3)")
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="flopbench-speed-"))
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path, xml_path = folder / "vgg16.onnx", folder / "vgg16.xml"

    # built in child processes too, so that this one stays small (its children inherit nothing big)
    if not onnx_path.exists():
        _build_in_child("onnx", onnx_path)
    if not (xml_path.exists() and xml_path.with_suffix(".bin").exists()):
        _build_in_child("ir", xml_path)
    print(f"model files: {onnx_path} {onnx_path.stat().st_size / 1e6:.0f} MB, {xml_path.with_suffix('.bin').name} "
          f"{xml_path.with_suffix('.bin').stat().st_size / 1e6:.0f} MB")
    warm([onnx_path, xml_path, xml_path.with_suffix(".bin")])

    baseline = run_child("baseline", onnx_path)
    plan = [("a", "read_model(onnx)", "read_model", onnx_path), ("b", "onnx.load(onnx)", "onnx_load", onnx_path),
            ("c", "flopbench.count(onnx)", "count_onnx", onnx_path), ("d", "flopbench.count(xml)", "count_ir", xml_path),
            ("e", "weightless_twin + read_model(bytes)", "twin", onnx_path)]
    results = {}
    print(f"\nmedian of {repeat} fresh processes each; peak RSS includes the interpreter and `import openvino`:")
    print(f"  baseline (python + import numpy, openvino): peak {baseline.get('peak_mb', float('nan')):.0f} MB"
          + (f"  [{baseline['error']}]" if "error" in baseline else ""))
    print(f"  {'':3}{'what':38}{'seconds':>9}{'peak MB':>10}  runs / notes")
    for letter, label, which, path in plan:
        result = measure(which, path, repeat)
        results[letter] = result
        if "unavailable" in result:
            print(f"  ({letter}) {label:36}{'-':>9}{'-':>10}  {result['unavailable']}")
        elif "error" in result:
            print(f"  ({letter}) {label:36}{'-':>9}{'-':>10}  FAILED: {result['error']}")
        else:
            notes = " ".join(f"{s:.3f}" for s in result["all_seconds"])
            if "total_flops" in result:
                notes += f"  total_flops={result['total_flops']:,}"
            if "twin_bytes" in result:
                notes += f"  twin={result['twin_bytes']:,} bytes"
            print(f"  ({letter}) {label:36}{result['seconds']:9.3f}{result['peak_mb']:10.0f}  {notes}")

    def ok(letter):
        return "seconds" in results[letter]

    print("\ntargets:")
    checks = []
    if ok("a") and ok("c"):
        ratio = results["c"]["seconds"] / results["a"]["seconds"]
        checks.append((f"count(onnx) / read_model(onnx) = {ratio:.3f} <= 0.5", ratio <= 0.5))
    else:
        checks.append(("count(onnx) / read_model(onnx) <= 0.5: not measured", None))
    if ok("d"):
        checks.append((f"count(ir) = {results['d']['seconds']:.3f} s < 0.2 s", results["d"]["seconds"] < 0.2))
    else:
        checks.append(("count(ir) < 0.2 s: not measured", None))
    for letter, label in (("c", "count(onnx)"), ("d", "count(ir)")):
        if ok(letter):
            peak = results[letter]["peak_mb"]
            checks.append((f"peak RSS of {label} = {peak:.0f} MB < {GIB_MB:.0f} MB", peak < GIB_MB))
        else:
            checks.append((f"peak RSS of {label} < {GIB_MB:.0f} MB: not measured", None))
    if ok("a") and ok("e"):  # the route alone, whatever count() adds on top
        ratio = results["e"]["seconds"] / results["a"]["seconds"]
        checks.append((f"(twin alone) twin+read_model / read_model(onnx) = {ratio:.3f} <= 0.5", ratio <= 0.5))
        checks.append((f"(twin alone) peak RSS = {results['e']['peak_mb']:.0f} MB < {GIB_MB:.0f} MB", results["e"]["peak_mb"] < GIB_MB))
    for text, passed in checks:
        print(f"  {'PASS' if passed else 'FAIL' if passed is False else 'N/A '}  {text}")
    if args.dir is None:
        print(f"\n(files kept in {folder}; pass --dir {folder} to reuse them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
