#!/usr/bin/env python
"""flopbench vs OpenVINO's benchmark_app, measured side by side: prints RATIOS, never absolute times as results.

For each zoo model and each mode (latency: ``-hint latency``, sync, one request; throughput:
``-hint throughput``, async, the device's optimal number of requests), every round runs
benchmark_app and ``python -m flopbench bench`` back to back, each in a fresh subprocess, with the
same settings. The order alternates every round (ABBA...), so a drift of the machine's speed does not
favour either tool. Per round it takes

* latency mode:    flopbench ENGINE latency median / benchmark_app median     (target <= 1.02)
  (both are OpenVINO's ``InferRequest.latency``, the lower median of the run)
* throughput mode: flopbench FPS / benchmark_app FPS                          (target >= 0.98)

and prints the median ratio over the rounds, the spread (min..max) and how many rounds met the
target, with informative ratios beside them (sync FPS and call latency in latency mode, latency in
throughput mode). It then measures flopbench's own per-call overhead in one process: a bare
``req.infer()`` loop timed with perf_counter_ns vs ``policy.run_sync`` driving the runner's
``sync_step``, in alternating blocks.

Like for like: benchmark_app would feed 3-channel "image" inputs as u8 (it adds a u8->f32 Convert
to the model); ``-ip f32`` stops that, since flopbench feeds the model's own f32. Both get
``-infer_precision f32`` / ``--precision f32``. flopbench gets ``-niter 1`` (benchmark_app with
``-t`` stops on time alone) and ``--warmup 1`` (benchmark_app runs one first inference). The
settings both actually used (hint, streams, threads, requests, precisions, pinning) are printed; if
flopbench's differ from benchmark_app's after the first round, the round is re-run with flopbench
given benchmark_app's values explicitly (``-nstreams/-nthreads/-nireq``).

It reports; it is not a test: the exit status is 0 unless the arguments are wrong.

    python benchmarks/vs_benchmark_app.py                       # sep_cnn + mobilenet_v1, -t 5, 3 rounds
    python benchmarks/vs_benchmark_app.py -t 3 --rounds 2 --models sep_cnn --dir /tmp/vs
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MODES = ("latency", "throughput")
LATENCY_TARGET = 1.02   # flopbench engine-latency median / benchmark_app median: at most this
FPS_TARGET = 0.98       # flopbench FPS / benchmark_app FPS: at least this
PRECISION = "f32"


# --------------------------------------------------------------------------------------------------
# one run of each tool
# --------------------------------------------------------------------------------------------------

@dataclass
class Run:
    """What one subprocess run measured and the settings it reports having used."""

    tool: str
    ok: bool
    median_ms: float | None = None       # engine latency (req.latency), lower median
    call_median_ms: float | None = None  # flopbench only: timed around the call
    fps: float | None = None
    iterations: int | None = None
    settings: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    log: str = ""


def _precision(text: str) -> str:
    text = str(text)
    for long, short in (("float32", "f32"), ("bfloat16", "bf16"), ("float16", "f16"), ("f32", "f32"),
                        ("bf16", "bf16"), ("f16", "f16")):
        if long in text:
            return short
    return text


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def benchmark_app_command() -> list[str]:
    """The benchmark_app console script of this interpreter's environment (same Python as flopbench)."""
    beside = Path(sys.executable).parent / "benchmark_app"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("benchmark_app")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; sys.argv[0] = 'benchmark_app'; "
            "from openvino.tools.benchmark.main import main; main()"]


_BA_MEDIAN = re.compile(r"^\[ INFO \]\s+Median:\s+([0-9.]+)\s+(ms|us)\s*$", re.M)
_BA_FPS = re.compile(r"^\[ INFO \]\s+Throughput:\s+([0-9.]+)\s+FPS", re.M)
_BA_COUNT = re.compile(r"^\[ INFO \]\s+Count:\s+(\d+)\s+iterations", re.M)
_BA_PROPERTY = re.compile(r"^\[ INFO \]   ([A-Z][A-Z0-9_]+): (.*)$")
_BA_INPUT = re.compile(r"^\[ INFO \]\s+(\S+) \(node: [^)]*\) : (\w+) /")
_BA_STEP = re.compile(r"^\[Step (\d+)/\d+\]")


def parse_benchmark_app(stdout: str, report: dict | None) -> Run:
    """benchmark_app's results: the median from stdout (the JSON/CSV report rounds it to 0.01 ms, too
    coarse for a sub-millisecond model; stdout switches to 0.01 us below 1 ms average), the rest from
    the JSON report when there is one, else from stdout. The compiled model's properties (step 8) and
    the input precision after its pre-processing (step 6) only exist on stdout."""
    run = Run("benchmark_app", ok=False, log=stdout)
    step = 0
    in_inputs = False
    props: dict[str, str] = {}
    input_types: list[str] = []
    for line in stdout.splitlines():
        m = _BA_STEP.match(line)
        if m:
            step = int(m.group(1))
            continue
        if step == 6:
            if line.endswith("Model inputs:"):
                in_inputs, input_types = True, []
            elif line.endswith("Model outputs:"):
                in_inputs = False
            elif in_inputs and (mi := _BA_INPUT.match(line)):
                input_types.append(mi.group(2))
        elif step == 8 and (mp := _BA_PROPERTY.match(line)):
            props[mp.group(1)] = mp.group(2).strip()
    median = _BA_MEDIAN.findall(stdout)
    if median:
        value, unit = median[0]  # the overall one (per-shape-group medians, if any, come after)
        run.median_ms = float(value) / (1000.0 if unit == "us" else 1.0)
        if unit == "ms" and run.median_ms > 0 and 0.005 / run.median_ms > 0.005:
            run.notes.append(f"benchmark_app printed the median as {value} ms: +-{0.5 / run.median_ms:.1f}% resolution")
    results = (report or {}).get("execution_results", {})
    setup = (report or {}).get("configuration_setup", {})
    if "throughput" in results:
        run.fps = float(results["throughput"])
    elif (m := _BA_FPS.search(stdout)):
        run.fps = float(m.group(1))
    if "total number of iterations" in results:
        run.iterations = int(results["total number of iterations"])
    elif (m := _BA_COUNT.search(stdout)):
        run.iterations = int(m.group(1))
    if run.median_ms is None and "latency (ms)" in results:  # stdout format changed: fall back, coarser
        run.median_ms = float(results["latency (ms)"])
        run.notes.append("median read from the JSON report (0.01 ms resolution)")
    # without the JSON report: "[Step 10/11] Measuring performance (Start inference asynchronously, 2 inference requests, ..."
    start = re.search(r"Start inference (a?synchronously)(?:, (\d+) inference requests)?", stdout)
    if start and "API" not in setup:
        setup = {"API": "async" if start.group(1) == "asynchronously" else "sync",
                 "number of parallel infer requests": start.group(2) or "1", **setup}
    run.settings = {
        "hint": props.get("PERFORMANCE_HINT", "?").lower(),
        "api": str(setup.get("API", "?")),
        "streams": props.get("NUM_STREAMS", "?"),
        "threads": props.get("INFERENCE_NUM_THREADS", "?"),
        "nireq": str(setup.get("number of parallel infer requests", "?")),
        "optimal": props.get("OPTIMAL_NUMBER_OF_INFER_REQUESTS", "?"),
        "precision": _precision(props.get("INFERENCE_PRECISION_HINT", "?")),
        "input": ",".join(input_types) or "?",
        "pinning": props.get("ENABLE_CPU_PINNING", "?"),
    }
    run.ok = run.median_ms is not None and run.fps is not None
    if not run.ok:
        run.error = "could not find the median latency and throughput in benchmark_app's output"
    return run


def run_benchmark_app(model: Path, mode: str, seconds: int, work: Path, tag: str, env: dict, timeout: float) -> Run:
    folder = work / f"ba_{tag}"
    folder.mkdir(parents=True, exist_ok=True)  # benchmark_app fails at the very end if it is missing
    report_path = folder / "benchmark_report.json"
    report_path.unlink(missing_ok=True)
    cmd = benchmark_app_command() + [
        "-m", str(model), "-d", "CPU", "-hint", mode, "-t", str(seconds),
        "-infer_precision", PRECISION, "-ip", PRECISION,
        "-report_type", "no_counters", "-report_folder", str(folder), "-json_stats",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=work)
    except subprocess.TimeoutExpired:
        return Run("benchmark_app", ok=False, error=f"timed out after {timeout:.0f} s")
    output = proc.stdout + proc.stderr
    (folder / "stdout.txt").write_text(output)
    if proc.returncode != 0:
        return Run("benchmark_app", ok=False, error=f"exit {proc.returncode}: {_tail(output)}", log=output)
    report = None
    if report_path.exists():
        try:
            report = json.loads(report_path.read_text())
        except ValueError:
            report = None
    return parse_benchmark_app(output, report)


def parse_flopbench(document: dict) -> Run:
    run = Run("flopbench", ok=False)
    result = document["results"][0]
    engine = result.get("engine_latency") or {}
    call = result.get("call_latency") or {}
    run.median_ms = engine["median_ns"] / 1e6 if engine.get("median_ns") is not None else None
    run.call_median_ms = call["median_ns"] / 1e6 if call.get("median_ns") is not None else None
    run.fps = result.get("throughput_fps")
    run.iterations = result.get("iterations")
    settings = result["engine"]
    inputs = document.get("metadata", {}).get("inputs", [])
    run.settings = {
        "hint": str(settings.get("hint", "?")),
        "api": "async" if result.get("mode") == "throughput" else "sync",
        "streams": str(settings.get("streams")),
        "threads": str(settings.get("threads")),
        "nireq": str(settings.get("requests")),
        "optimal": str(settings.get("optimal_requests")),
        "precision": _precision(settings.get("precision", "?")),
        "input": ",".join(_precision(i.get("dtype", "?")) for i in inputs) or "?",
        "pinning": "?",  # not in flopbench's report; read in-process further down
    }
    if not result.get("complete", True):
        run.notes.append(f"flopbench run incomplete ({result.get('stop_reason')})")
    run.ok = run.median_ms is not None and bool(run.fps)
    if not run.ok:
        run.error = "flopbench's JSON has no engine latency or throughput"
    return run


def flopbench_args(mode: str, seconds: int, extra: list[str]) -> list[str]:
    return ["-hint", mode, "-t", str(seconds), "-niter", "1", "--warmup", "1", "--precision", PRECISION, *extra]


def run_flopbench(model: Path, mode: str, seconds: int, work: Path, tag: str, env: dict, timeout: float,
                  extra: list[str]) -> Run:
    out = work / f"fb_{tag}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "flopbench", "bench", str(model), *flopbench_args(mode, seconds, extra), "--json", str(out)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=work)
    except subprocess.TimeoutExpired:
        return Run("flopbench", ok=False, error=f"timed out after {timeout:.0f} s")
    output = proc.stdout + proc.stderr
    (work / f"fb_{tag}.log").write_text(output)
    if proc.returncode != 0 or not out.exists():
        return Run("flopbench", ok=False, error=f"exit {proc.returncode}: {_tail(output)}", log=output)
    try:
        run = parse_flopbench(json.loads(out.read_text()))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return Run("flopbench", ok=False, error=f"unreadable JSON {out}: {exc}", log=output)
    run.log = output
    return run


# --------------------------------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------------------------------

COMPARED = ("hint", "api", "streams", "threads", "nireq", "precision", "input")


def mismatches(ba: Run, fb: Run) -> list[str]:
    return [f"{k}: benchmark_app {ba.settings.get(k)} vs flopbench {fb.settings.get(k)}"
            for k in COMPARED if str(ba.settings.get(k)).lower() != str(fb.settings.get(k)).lower()]


def explicit_flags(ba: Run, mode: str) -> list[str]:
    """flopbench flags that force benchmark_app's settings (flopbench accepts them beside -hint)."""
    flags = []
    for key, flag in (("streams", "-nstreams"), ("threads", "-nthreads")):
        if ba.settings.get(key, "?").isdigit():
            flags += [flag, ba.settings[key]]
    if mode == "throughput" and ba.settings.get("nireq", "?").isdigit():
        flags += ["-nireq", ba.settings["nireq"]]
    return flags


@dataclass
class Pair:
    round: int
    first: str
    ba: Run
    fb: Run

    @property
    def ok(self) -> bool:
        return self.ba.ok and self.fb.ok

    def ratio(self, metric: str) -> float | None:
        if not self.ok:
            return None
        if metric == "engine_latency":
            return self.fb.median_ms / self.ba.median_ms
        if metric == "fps":
            return self.fb.fps / self.ba.fps
        if metric == "call_latency":
            return None if self.fb.call_median_ms is None else self.fb.call_median_ms / self.ba.median_ms
        raise KeyError(metric)


# (metric, label, target, direction) per mode; direction +1: higher is better, -1: lower is better, 0: info
GOALS = {
    "latency": [("engine_latency", "engine-latency median", LATENCY_TARGET, -1),
                ("fps", "sync FPS (info)", None, 0),
                ("call_latency", "call-latency median (info)", None, 0)],
    "throughput": [("fps", "FPS", FPS_TARGET, +1),
                   ("engine_latency", "latency median (info)", None, 0)],
}


def meets(value: float, target: float | None, direction: int) -> bool | None:
    if target is None or direction == 0:
        return None
    return value <= target if direction < 0 else value >= target


def fmt_target(target: float | None, direction: int) -> str:
    if target is None or direction == 0:
        return "-"
    return f"{'<=' if direction < 0 else '>='} {target:.2f}"


# --------------------------------------------------------------------------------------------------
# flopbench's own per-call overhead, in this process
# --------------------------------------------------------------------------------------------------

def flopbench_properties(model: Path, mode: str, extra: list[str]) -> dict[str, str]:
    """Compile exactly as `flopbench bench` does and read back what its report leaves out (pinning)."""
    from flopbench.measure.engines import EngineConfig, get_engine
    from flopbench.model.reading import load

    opts = dict(zip(extra[::2], extra[1::2]))
    config = EngineConfig(hint=mode, precision=PRECISION, nstreams=_int(opts.get("-nstreams")),
                          nthreads=_int(opts.get("-nthreads")), nireq=_int(opts.get("-nireq")))
    loaded = load(str(model))
    runner = get_engine("openvino").compile(str(loaded.path), loaded.input_shapes(), config)
    try:
        out = {}
        for key in ("ENABLE_CPU_PINNING", "NUM_STREAMS", "INFERENCE_NUM_THREADS", "SCHEDULING_CORE_TYPE",
                    "ENABLE_HYPER_THREADING", "EXECUTION_MODE_HINT", "PERF_COUNT"):
            try:
                out[key] = str(runner.compiled.get_property(key))
            except Exception:  # noqa: BLE001 - not every build exposes every key
                out[key] = "?"
        return out
    finally:
        runner.close()


def _int(value: str | None) -> int | None:
    return None if value is None else int(value)


def _median(values) -> float:
    return float(statistics.median(values))


def per_call_overhead(model: Path, blocks: int, block_seconds: float) -> dict:
    """Bare `req.infer()` loop vs `run_sync(sync_step)`, same compiled model and inputs, alternating
    blocks of n calls; per block the median call latency of each. Also both harnesses around a no-op
    (no inference at all): the harness's pure cost without the engine's noise."""
    import numpy as np
    import openvino as ov

    from flopbench.measure.engines import EngineConfig, get_engine
    from flopbench.measure.inputs import prepare_inputs
    from flopbench.model.reading import load
    from flopbench.measure.policy import RunPolicy, run_sync

    loaded = load(str(model))
    arrays = prepare_inputs(loaded.inputs, None, seed=0).arrays
    runner = get_engine("openvino").compile(str(loaded.path), loaded.input_shapes(),
                                            EngineConfig(hint="latency", precision=PRECISION))
    try:
        compiled = runner.compiled
        req = compiled.create_infer_request()
        for port in compiled.inputs:
            names = set(port.get_names()) | {port.get_node().get_friendly_name()}
            name = next(n for n in names if n in arrays)
            req.set_tensor(port, ov.Tensor(arrays[name], shared_memory=True))
        step, engine_latencies = runner.sync_step(arrays)
        pc = time.perf_counter_ns

        def bare(n: int, call) -> list[int]:
            lat = [0] * n
            for i in range(n):
                t0 = pc()
                call()
                lat[i] = pc() - t0
            return lat

        def harness(n: int, call) -> np.ndarray:
            return run_sync(call, RunPolicy(warmup_iterations=0, min_duration_s=1e-9, min_iterations=n)).latencies_ns

        # warm up both, and size the blocks
        bare(5, req.infer)
        harness(5, step)
        t0 = pc()
        bare(10, req.infer)
        estimate = max(1, (pc() - t0) // 10)
        n = int(min(50_000, max(50, block_seconds * 1e9 / estimate)))

        bare_med, fb_med, fb_engine_med = [], [], []
        for b in range(blocks):
            order = ("bare", "fb") if b % 2 == 0 else ("fb", "bare")
            for which in order:
                if which == "bare":
                    bare_med.append(_median(bare(n, req.infer)))
                else:
                    before = len(engine_latencies())
                    fb_med.append(_median(harness(n, step)))
                    fb_engine_med.append(_median(engine_latencies()[before:]))

        diffs = [f - b for f, b in zip(fb_med, bare_med)]
        ratios = [f / b for f, b in zip(fb_med, bare_med)]
        return {
            "n": n, "blocks": blocks,
            "diff_us": _median(diffs) / 1e3, "diff_min_us": min(diffs) / 1e3, "diff_max_us": max(diffs) / 1e3,
            "ratio": _median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "call_minus_engine_us": _median([f - e for f, e in zip(fb_med, fb_engine_med)]) / 1e3,
        }
    finally:
        runner.close()


def harness_only(calls: int = 200_000, blocks: int = 6) -> tuple[float, float]:
    """Median ns per call of the bare timing loop and of run_sync around a no-op: the harness's own
    cost, free of the engine's noise."""
    from flopbench.measure.policy import RunPolicy, run_sync

    pc = time.perf_counter_ns

    def noop() -> None:
        return None

    def bare() -> float:
        lat = [0] * calls
        for i in range(calls):
            t0 = pc()
            noop()
            lat[i] = pc() - t0
        return _median(lat)

    def harness() -> float:
        return _median(run_sync(noop, RunPolicy(warmup_iterations=0, min_duration_s=1e-9, min_iterations=calls)).latencies_ns)

    bare_ns, fb_ns = [], []
    for b in range(blocks):
        if b % 2 == 0:
            bare_ns.append(bare()); fb_ns.append(harness())
        else:
            fb_ns.append(harness()); bare_ns.append(bare())
    return _median(bare_ns), _median(fb_ns)


# --------------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------------

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="sep_cnn,mobilenet_v1", help="comma-separated zoo models (default: sep_cnn,mobilenet_v1)")
    parser.add_argument("--modes", default="latency,throughput", help="comma-separated: latency, throughput (default: both)")
    parser.add_argument("-t", "--time", dest="seconds", type=int, default=5, help="seconds per run of each tool (whole; default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per model and mode (default 3)")
    parser.add_argument("--dir", help="where to write the models, reports and logs (kept); default: a temporary folder, removed")
    parser.add_argument("--overhead-blocks", type=int, default=10, help="alternating blocks per harness in the per-call overhead test (default 10; 0 skips it)")
    parser.add_argument("--overhead-block-seconds", type=float, default=0.3, help="about how long one block runs (default 0.3)")
    args = parser.parse_args(argv)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    from flopbench import zoo

    for m in modes:
        if m not in MODES:
            parser.error(f"unknown mode {m!r}; choose from {', '.join(MODES)}")
    for m in models:
        try:
            zoo.check_name(m)
        except Exception as exc:  # noqa: BLE001
            parser.error(str(exc))
    if args.seconds < 1 or args.rounds < 1:
        parser.error("-t and --rounds must be at least 1")

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="vs_benchmark_app."))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONWARNINGS", None)
    timeout = 3 * args.seconds + 180

    load_before = _loadavg()
    pairs: dict[tuple[str, str], list[Pair]] = {}
    extras: dict[tuple[str, str], list[str]] = {}
    notes: list[str] = []
    interrupted = False
    try:
        paths = {}
        for name in models:
            log(f"writing zoo model {name} to {work}")
            paths[name] = zoo.write_zoo_model(name, work).xml
        for name in models:
            for mode in modes:
                key = (name, mode)
                pairs[key] = []
                extras[key] = []
                r = 0
                redone = False
                while r < args.rounds:
                    first = "benchmark_app" if r % 2 == 0 else "flopbench"
                    tag = f"{name}_{mode}_r{r}"
                    results = {}
                    for tool in ((first, "flopbench") if first == "benchmark_app" else (first, "benchmark_app")):
                        log(f"[{name} {mode} round {r + 1}/{args.rounds}] {tool} ...")
                        if tool == "benchmark_app":
                            results[tool] = run_benchmark_app(paths[name], mode, args.seconds, work, tag, env, timeout)
                        else:
                            results[tool] = run_flopbench(paths[name], mode, args.seconds, work, tag, env, timeout, extras[key])
                        if not results[tool].ok:
                            log(f"  {tool} failed: {results[tool].error}")
                    pair = Pair(r + 1, first, results["benchmark_app"], results["flopbench"])
                    if pair.ok and r == 0 and not redone:
                        diff = mismatches(pair.ba, pair.fb)
                        if diff:
                            extras[key] = explicit_flags(pair.ba, mode)
                            notes.append(f"{name} {mode}: settings differed ({'; '.join(diff)}); round 1 re-run with "
                                         f"flopbench {' '.join(extras[key])}")
                            log("  " + notes[-1])
                            redone = True
                            continue
                    pairs[key].append(pair)
                    r += 1
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: reporting what was measured")

    overhead: dict[str, dict] = {}
    fb_props: dict[tuple[str, str], dict[str, str]] = {}
    if not interrupted:
        try:
            for key in pairs:
                fb_props[key] = flopbench_properties(paths[key[0]], key[1], extras.get(key, []))
            if args.overhead_blocks > 0:
                for name in models:
                    log(f"[{name}] per-call overhead: bare req.infer() loop vs run_sync(sync_step) ...")
                    overhead[name] = per_call_overhead(paths[name], args.overhead_blocks, args.overhead_block_seconds)
                overhead["_noop"] = harness_only()
        except KeyboardInterrupt:
            log("interrupted: reporting what was measured")

    load_after = _loadavg()
    report(args, pairs, extras, fb_props, overhead, notes, (load_before, load_after))
    if args.dir:
        print(f"\nreports and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _loadavg() -> str:
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except (AttributeError, OSError):
        return "?"


def report(args, pairs, extras, fb_props, overhead, notes, load) -> None:
    import openvino as ov

    print(f"flopbench vs benchmark_app  (OpenVINO {ov.get_version()}, {os.cpu_count()} CPUs, "
          f"-t {args.seconds} s per run, {args.rounds} round(s), order alternates every round)")
    busy = any(part.split("/")[0] != "?" and float(part.split("/")[0]) > (os.cpu_count() or 1) for part in load)
    print(f"load average (1/5/15 min) before {load[0]}, after {load[1]}"
          + (": above the CPU count, other work competed for the cores; trust the spread, not one round" if busy else ""))
    print(f"benchmark_app: -d CPU -hint MODE -t {args.seconds} -infer_precision {PRECISION} -ip {PRECISION}")
    print(f"flopbench:     bench MODEL {' '.join(flopbench_args('MODE', args.seconds, []))}")

    # -- settings ------------------------------------------------------------------------------------
    print("\nSettings actually used (first round; read back from the compiled model)")
    cols = ("hint", "api", "streams", "threads", "nireq", "optimal", "precision", "input", "pinning")
    header = f"  {'model':<13}{'mode':<11}{'tool':<15}" + "".join(f"{c:>10}" for c in cols) + "  match"
    print(header)
    for (name, mode), plist in pairs.items():
        good = [p for p in plist if p.ok]
        if not good:
            print(f"  {name:<13}{mode:<11}(no successful round)")
            continue
        p = good[0]
        fb_settings = dict(p.fb.settings)
        props = fb_props.get((name, mode), {})
        if props.get("ENABLE_CPU_PINNING", "?") != "?":
            fb_settings["pinning"] = props["ENABLE_CPU_PINNING"]
        diff = mismatches(p.ba, p.fb)
        pin_same = str(p.ba.settings.get("pinning")).lower() == str(fb_settings.get("pinning")).lower()
        verdict = "yes" if not diff and pin_same else "NO: " + "; ".join(diff + ([] if pin_same else ["pinning"]))
        print(f"  {name:<13}{mode:<11}{'benchmark_app':<15}" + "".join(f"{str(p.ba.settings.get(c, '?')):>10}" for c in cols))
        print(f"  {'':<13}{'':<11}{'flopbench':<15}" + "".join(f"{str(fb_settings.get(c, '?')):>10}" for c in cols)
              + f"  {verdict}")
        if extras.get((name, mode)):
            print(f"  {'':<13}{'':<11}(flopbench given {' '.join(extras[(name, mode)])} to match)")

    # -- per round -----------------------------------------------------------------------------------
    print("\nPer round (absolute values only to read the ratios; the machine is shared, do not compare across rows)")
    print(f"  {'model':<13}{'mode':<11}{'rnd':>4} {'first':<14}{'ba median':>11}{'fb engine':>11}{'fb call':>11}"
          f"{'ba FPS':>10}{'fb FPS':>10}{'lat ratio':>10}{'FPS ratio':>10}")
    for (name, mode), plist in pairs.items():
        for p in plist:
            if not p.ok:
                err = p.ba.error if not p.ba.ok else p.fb.error
                print(f"  {name:<13}{mode:<11}{p.round:>4} {p.first:<14}FAILED: {err.splitlines()[0] if err else '?'}")
                continue
            print(f"  {name:<13}{mode:<11}{p.round:>4} {p.first:<14}{_ms(p.ba.median_ms):>11}{_ms(p.fb.median_ms):>11}"
                  f"{_ms(p.fb.call_median_ms):>11}{p.ba.fps:>10.1f}{p.fb.fps:>10.1f}"
                  f"{p.ratio('engine_latency'):>10.3f}{p.ratio('fps'):>10.3f}")
            for note in p.ba.notes + p.fb.notes:
                print(f"  {'':<28}note: {note}")

    # -- summary -------------------------------------------------------------------------------------
    print("\nSummary: ratio = flopbench / benchmark_app, per round side by side; median over rounds")
    print(f"  {'model':<13}{'mode':<11}{'metric':<28}{'target':>8}{'median':>9}  {'verdict':<8}"
          f"{'spread (min..max)':>19}  rounds meeting target")
    for (name, mode), plist in pairs.items():
        for metric, label, target, direction in GOALS[mode]:
            values = [v for v in (p.ratio(metric) for p in plist) if v is not None]
            if not values:
                print(f"  {name:<13}{mode:<11}{label:<28}{fmt_target(target, direction):>8}{'n/a':>9}")
                continue
            med = _median(values)
            ok = meets(med, target, direction)
            verdict = "-" if ok is None else ("PASS" if ok else "FAIL")
            spread = f"{min(values):.3f}..{max(values):.3f}"
            if ok is None:
                rounds = "-"
            else:
                k = sum(bool(meets(v, target, direction)) for v in values)
                rounds = f"{k}/{len(values)} " + ("PASS" if k == len(values) else "FAIL" if k == 0 else "MIXED (noise)")
            print(f"  {name:<13}{mode:<11}{label:<28}{fmt_target(target, direction):>8}{med:>9.3f}  {verdict:<8}"
                  f"{spread:>19}  {rounds}")

    # -- per-call overhead ---------------------------------------------------------------------------
    if overhead:
        print("\nflopbench per-call overhead, one process, latency hint, sync: bare `t0; req.infer(); t1` loop vs\n"
              "policy.run_sync driving OpenVINORunner.sync_step (same compiled model and input tensor), alternating blocks")
        print(f"  {'model':<13}{'calls/block':>12}{'blocks':>7}{'median diff':>13}{'(min..max)':>26}{'ratio fb/bare':>15}"
              f"{'(min..max)':>15}{'fb call-engine':>16}")
        noop_bare, noop_fb = overhead.pop("_noop", (float("nan"), float("nan")))
        for name, o in overhead.items():
            print(f"  {name:<13}{o['n']:>12}{o['blocks']:>7}{o['diff_us']:>+10.2f} us"
                  f"{_range_us(o['diff_min_us'], o['diff_max_us']):>26}"
                  f"{o['ratio']:>15.4f}{_range(o['ratio_min'], o['ratio_max']):>15}{o['call_minus_engine_us']:>13.2f} us")
        print(f"  harness alone around a no-op (no inference): bare loop {noop_bare:.0f} ns/call, "
              f"run_sync {noop_fb:.0f} ns/call -> {noop_fb - noop_bare:+.0f} ns/call")
        print("  (fb call-engine = flopbench call-latency median minus its req.latency median: the Python binding's share\n"
              "   -- pybind call, GIL release/re-acquire, InferRequest.infer() returning an OVDict of copied outputs --\n"
              "   which benchmark_app's own loop, also calling req.infer(), pays too)")

    if notes:
        print("\nNotes:")
        for note in notes:
            print(f"  - {note}")


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 1000:.1f} us" if value < 1 else f"{value:.3f} ms"


def _range(lo: float, hi: float) -> str:
    return f"{lo:.3f}..{hi:.3f}"


def _range_us(lo: float, hi: float) -> str:
    return f"{lo:+.2f}..{hi:+.2f} us"


if __name__ == "__main__":
    sys.exit(main())
