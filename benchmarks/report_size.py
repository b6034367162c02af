"""How big is the report of a 200-layer model, and how fast does it open? A report, not a test: it
always exits 0.

Builds a 200-layer ONNX model (alternating 3x3 convolutions and 3x3 depthwise convolutions, each
with bias and ReLU, on 1x16x32x32, then a global average pool and a fully connected layer), makes its
page through the command line (`flopbench report MODEL --engine openvino,onnxruntime -t T`: count,
bench, and a profile of each engine on the cached roofline, measured first if there is none), and
opens it in Debian's headless Chromium several times: the time from navigation to the load event,
and to the first frame drawn after it.

Targets: page < 2 MB, opens in < 2 s (median of the openings).

    python benchmarks/report_size.py [--dir DIR] [--layers 200] [-t 2] [--repeat 5]

With --count-layers 2000,10000,100000 it times something else: `flopbench report count.json` of
a count JSON of that many layers (sep_cnn's real layers repeated under new names), the page of a
count alone, and prints the seconds, the peak memory and the page's size for each; the target is
10 s for any of them.

    python benchmarks/report_size.py --count-layers 2000,10000,100000
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the DevTools driver the report tests use

SIZE_TARGET_BYTES = 2_000_000
OPEN_TARGET_S = 2.0
CHANNELS = 16


def build_model(path: Path, layers: int) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, initializers = [], []
    current = "input"
    convs = layers - 3  # + the global pool, the flatten and the fully connected layer
    for index in range(convs):
        depthwise = index % 2 == 1
        group = CHANNELS if depthwise else 1
        weight = rng.normal(0, 0.1, (CHANNELS, CHANNELS // group, 3, 3)).astype(np.float32)
        bias = np.zeros(CHANNELS, dtype=np.float32)
        initializers += [numpy_helper.from_array(weight, f"w{index}"), numpy_helper.from_array(bias, f"b{index}")]
        nodes.append(helper.make_node("Conv", [current, f"w{index}", f"b{index}"], [f"c{index}"], name=f"conv{index}",
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=group))
        nodes.append(helper.make_node("Relu", [f"c{index}"], [f"r{index}"], name=f"relu{index}"))
        current = f"r{index}"
    nodes.append(helper.make_node("GlobalAveragePool", [current], ["pooled"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten", axis=1))
    initializers.append(numpy_helper.from_array(rng.normal(0, 0.1, (CHANNELS, 10)).astype(np.float32), "fc_w"))
    nodes.append(helper.make_node("MatMul", ["flat", "fc_w"], ["output"], name="fc"))
    graph = helper.make_graph(nodes, "deep", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, CHANNELS, 32, 32])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def time_count_pages(folder: Path, sizes: list[int]) -> None:
    """`flopbench report count.json` of counts of each size: seconds, peak memory, page size."""
    import json
    import resource

    import flopbench
    from test_report import repeated_count  # the test's own way of making a large count
    from flopbench.zoo import write_zoo_model

    base = flopbench.count(write_zoo_model("sep_cnn", folder / "zoo").xml).to_dict()
    for layers in sizes:
        counted, page = folder / f"count-{layers}.json", folder / f"count-{layers}.html"
        counted.write_text(json.dumps(repeated_count(base, layers)))
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flopbench", "report", str(counted), "-o", str(page)], cwd=REPO,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        status = "PASS" if done.returncode == 0 and seconds <= 10 else "FAIL"
        print(f"report of a count of {layers:,} layers: {seconds:.1f} s (target <= 10 s: {status}), exit {done.returncode}, "
              f"peak memory of the largest run so far {peak_mb:,.0f} MB, page {page.stat().st_size / 1e6 if page.exists() else 0:.2f} MB, "
              f"JSON {counted.stat().st_size / 1e6:,.0f} MB" + (f"; {done.stderr.strip()}" if done.returncode else ""), flush=True)
        print(f"  stages in this process, CPU seconds: {stages(counted)}", flush=True)


def stages(counted: Path) -> str:
    """Where a report of a count file spends its time, stage by stage, on the process's CPU clock
    (a busy machine stretches the wall clock, less so this)."""
    from flopbench.render.report import render_report
    from flopbench.reporting.report import _from_results
    from flopbench.results import codec, documents

    spent = {}
    with documents.collector_paused():
        started = time.process_time()
        document = documents.read_document(counted)
        spent["parse"] = time.process_time() - started
        kind, data = codec.upgraded(document)
        started = time.process_time()
        documents.checked(data, kind.name, counted.name)
        spent["schema check"] = time.process_time() - started
        started = time.process_time()
        cost = codec.decode(kind.cls, data)
        spent["read into objects"] = time.process_time() - started
        started = time.process_time()
        render_report(_from_results([(str(counted), cost)], "report", False))
        spent["render"] = time.process_time() - started
    return ", ".join(f"{name} {value:.2f}" for name, value in spent.items()) + f"; in all {sum(spent.values()):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="keep the model and the page here")
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("-t", type=float, default=2.0, help="measuring time per engine (s)")
    parser.add_argument("--repeat", type=int, default=5, help="openings in the browser")
    parser.add_argument("--count-layers", help="instead: time report of count JSONs of these many layers (2000,10000,100000)")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="flopbench-report-size-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.count_layers:
        time_count_pages(folder, [int(n) for n in args.count_layers.split(",")])
        return 0
    model, page = folder / "deep.onnx", folder / "deep.html"
    build_model(model, args.layers)

    import flopbench

    cost = flopbench.count(model)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flopbench", "report", str(model), "--engine", "openvino,onnxruntime",
                    "-t", str(args.t), "-o", str(page)], check=True, cwd=REPO)
    command_s = time.perf_counter() - started
    size = page.stat().st_size

    from chromium import Chromium

    loads, frames = [], []
    with Chromium() as browser:
        for _ in range(args.repeat):
            started = time.perf_counter()
            loads.append(browser.open(page))
            browser.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            frames.append(time.perf_counter() - started)
        errors = browser.errors()
        rows = browser.evaluate("document.querySelectorAll('#layer-table tbody').length")
        charts = browser.evaluate("document.querySelectorAll('svg.chart').length")
    load_s, frame_s = statistics.median(loads), statistics.median(frames)
    print(f"model: {args.layers} layers counted ({len(cost.layers)} in the table, {rows} rows in the page), {charts} charts")
    print(f"flopbench report (count + bench of 2 engines x {args.t:g} s + profile of both + render + write): {command_s:.1f} s")
    print(f"page size: {size / 1e6:.3f} MB  (target < {SIZE_TARGET_BYTES / 1e6:g} MB: {'PASS' if size < SIZE_TARGET_BYTES else 'FAIL'})"
          f"  = {size / SIZE_TARGET_BYTES:.2f} of the target")
    print(f"open in headless Chromium, median of {args.repeat}: load event {load_s:.3f} s, first frame after it {frame_s:.3f} s "
          f"(target < {OPEN_TARGET_S:g} s: {'PASS' if frame_s < OPEN_TARGET_S else 'FAIL'})  = {frame_s / OPEN_TARGET_S:.2f} of the target;"
          f" all: {', '.join(f'{v:.3f}' for v in frames)}")
    print(f"console errors: {len(errors)}")
    print(f"page: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
