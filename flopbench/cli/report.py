"""`flopbench report`: one self-contained HTML page of a model — counted and measured now, or
rendered from result files measured earlier (or on another machine)."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ..errors import EXIT_INTERRUPTED, OptionError
from .output import check_output, console

DEFAULT_OUTPUT = "report.html"


def add_parser(commands) -> None:
    report = commands.add_parser("report", help="one self-contained HTML page: summary, charts, layer table, warnings")
    report.add_argument("sources", metavar="MODEL | RESULT.json", nargs="+",
                        help="a model to count and measure now, or the JSON results of flops / bench to render")
    report.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help=f"the HTML file to write (default {DEFAULT_OUTPUT})")
    report.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")
    report.add_argument("-b", "--batch", type=int, help="batch size")
    report.add_argument("--engine", action="append", help="openvino (default) and/or onnxruntime; repeat or comma-separate")
    report.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    report.add_argument("-hint", "--hint", default="latency", help="latency (default), throughput or none")
    report.add_argument("-nireq", "--nireq", type=int, help="number of infer requests in throughput mode")
    report.add_argument("-nstreams", "--nstreams", type=int, help="number of streams (OpenVINO)")
    report.add_argument("-nthreads", "--nthreads", type=int, help="number of threads")
    report.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16 (default: the device's)")
    report.add_argument("-t", "--time", type=float, default=10.0, dest="seconds", help="minimum measuring time per engine in seconds (default 10)")
    report.add_argument("-niter", "--niter", type=int, default=100, help="minimum number of measured runs (default 100)")
    report.add_argument("--warmup", type=int, default=5, help="warm-up runs (default 5)")
    report.add_argument("-i", "--input", action="append", help="input .npy (one per input, or name:file.npy); seeded random if omitted")
    report.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    report.add_argument("--include-other", action="store_true", help="add bias, activation, pooling and normalization FLOPs to the total")
    report.set_defaults(handler=run_command)


MEASURING_FLAGS = ("shape", "batch", "engine", "hint", "nireq", "nstreams", "nthreads", "precision", "input")


def _is_result(path: str) -> bool:
    return Path(path).suffix.lower() == ".json"


def _engines(values: list[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or ["openvino"]:
        names.extend(v.strip() for v in value.split(",") if v.strip())
    return list(dict.fromkeys(names))


def split_sources(sources: list[str]) -> tuple[str | None, list[str]]:
    """One model to measure now, or result files (.json) to render: never both, never two models."""
    results = [s for s in sources if _is_result(s)]
    if results and len(results) != len(sources):
        raise OptionError("flopbench report takes either one model or result files (.json), not both",
                          "give the model alone to measure it now, or only the .json results of flops / bench")
    if not results and len(sources) != 1:
        raise OptionError(f"flopbench report measures one model, got {len(sources)}",
                          "give one model (flopbench compare puts several side by side)")
    return (None, results) if results else (sources[0], [])


def _command(args) -> str:
    argv = getattr(args, "argv", None)
    return "flopbench " + shlex.join(argv if argv is not None else sys.argv[1:])


def run_command(args) -> int:
    from ..render.html import ReportContent, render_report

    model, results = split_sources(args.sources)
    if results:
        given = [f"--{name.replace('_', '-')}" for name in MEASURING_FLAGS if getattr(args, name) not in (None, False)]
        if given:
            raise OptionError(f"{', '.join(given)} only apply when measuring a model, not to result files",
                              "drop them, or give the model instead of its results")
        content, interrupted = _from_results(args, results), False
    else:
        content, interrupted = _measured(args, model)
    _write(args.output, render_report(content))
    return EXIT_INTERRUPTED if interrupted else 0


def _write(path: str, page: str) -> None:
    from ..results import writing

    writing.write_text_atomic(path, page)
    console(stderr=True).print(f"wrote {path} ({len(page.encode('utf-8')) / 1e3:,.0f} kB)", markup=False)


def _measured(args, model: str):
    from ..counting import count
    from ..measure.bench import bench
    from ..measure.engines import EngineConfig, get_engine
    from ..measure.inputs import files_read
    from ..measure.policy import RunPolicy
    from ..render.html import ReportContent

    check_output(args.output, protect=files_read(model, args.input))
    engines = _engines(args.engine)
    for name in engines:
        get_engine(name)  # unknown names fail before any loading
    config = EngineConfig(device=args.device, hint=args.hint, nstreams=args.nstreams, nthreads=args.nthreads,
                          nireq=args.nireq, precision=args.precision)
    policy = RunPolicy(warmup_iterations=args.warmup, min_duration_s=args.seconds, min_iterations=args.niter)
    config.validate()
    policy.validate()
    cost = count(model, shape=args.shape, include_other=args.include_other, batch=args.batch)
    announced: set[str] = set()

    def on_progress(engine: str, fraction: float) -> None:
        if engine not in announced and fraction < 1.0:
            announced.add(engine)
            print(f"flopbench: measuring {engine} (Ctrl-C stops and keeps what was measured)", file=sys.stderr, flush=True)

    report = bench(model, engines=engines, config=config, policy=policy, inputs=args.input, shape=args.shape,
                   batch=args.batch, seed=args.seed, progress=on_progress)
    notes = ("interrupted (Ctrl-C): the page shows what was measured until then",) if report.interrupted else ()
    return ReportContent(cost=cost, bench=report, command=_command(args), notes=notes), report.interrupted


def _from_results(args, paths: list[str]):
    raise OptionError("rendering result files needs flopbench.load_result", "measure the model instead")
