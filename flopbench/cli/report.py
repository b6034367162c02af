"""`flopbench report`: one self-contained HTML page of a model — counted and measured now, or
rendered from result files measured earlier (or on another machine)."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from ..measure.engines import engine_choices
from ..errors import EXIT_INTERRUPTED, OptionError
from .arguments import command_line, engine_names
from .output import check_output, console

DEFAULT_OUTPUT = "report.html"


def add_parser(commands) -> None:
    report = commands.add_parser("report", help="one self-contained HTML page: summary, charts, layer table, warnings")
    report.add_argument("sources", metavar="MODEL | RESULT.json", nargs="+",
                        help="a model to count and measure now, or the JSON results of flops / bench / profile to render, "
                             "or one gathered fleet file (its machines side by side)")
    report.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help=f"the HTML file to write (default {DEFAULT_OUTPUT})")
    report.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")
    report.add_argument("-b", "--batch", type=int, help="batch size")
    report.add_argument("--engine", action="append", help=engine_choices(several=True))
    report.add_argument("-d", "--device", help="device (default CPU)")
    report.add_argument("-hint", "--hint", help="latency (default), throughput or none")
    report.add_argument("-nireq", "--nireq", type=int, help="number of infer requests in throughput mode")
    report.add_argument("-nstreams", "--nstreams", type=int, help="number of streams (OpenVINO)")
    report.add_argument("-nthreads", "--nthreads", type=int, help="number of threads")
    report.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16 (default: the device's)")
    report.add_argument("-t", "--time", type=float, dest="seconds", help="measure each engine for about this many seconds, as benchmark_app (default: 10 s and 100 runs when neither -t nor -niter is given)")
    report.add_argument("-niter", "--niter", type=int, help="measure this many runs, as benchmark_app; with -t, both are met")
    report.add_argument("--warmup", type=int, help="warm-up runs (default 5)")
    report.add_argument("-i", "--input", action="append", help="input .npy (one per input, or name:file.npy); seeded random if omitted")
    report.add_argument("--seed", type=int, help="seed of the random inputs (default 0)")
    report.add_argument("--no-profile", action="store_true",
                        help="skip the per-layer profile and the roofline (count and bench only)")
    report.add_argument("--profile-niter", type=int, help="profiled inferences per engine (default 100)")
    report.add_argument("--include-other", action="store_true", help="add bias, activation, pooling and normalization FLOPs to the total")
    report.set_defaults(handler=run_command)


# flag (its dest) -> the default when measuring; none of them means anything for result files
MEASURING_FLAGS = {"shape": None, "batch": None, "engine": None, "device": "CPU", "hint": "latency", "nireq": None,
                   "nstreams": None, "nthreads": None, "precision": None, "seconds": None, "niter": None, "warmup": 5,
                   "input": None, "seed": 0, "no_profile": False, "profile_niter": 100}
FLAG_NAMES = {"seconds": "-t", "niter": "-niter", "hint": "-hint", "nireq": "-nireq", "nstreams": "-nstreams",
              "nthreads": "-nthreads", "input": "-i", "device": "-d", "batch": "-b"}


def check_report_flags(given: dict) -> None:
    """Refuse measuring flags (by dest) given with result files: those were measured already."""
    named = [FLAG_NAMES.get(name, f"--{name.replace('_', '-')}") for name, value in given.items() if value not in (None, False)]
    if named:
        raise OptionError(f"{', '.join(named)}: only for measuring a model, not for result files (they were measured already)",
                          "drop them, or give the model instead of its results")


def _is_result(path: str) -> bool:
    return Path(path).suffix.lower() == ".json"


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


def run_command(args) -> int:
    from ..render.report import render_report

    model, results = split_sources(args.sources)
    if results:
        from .. import load_result
        from ..fleet.records import FleetResult
        from ..study.sweep import SweepResult

        check_report_flags({name: getattr(args, name) for name in MEASURING_FLAGS})
        # never over a result read, nor over the points a sweep's results sit beside
        check_output(args.output, protect=[*results, *(Path(path).parent / "points.json" for path in results)])
        loaded = [(path, load_result(path)) for path in results]
        if any(isinstance(result, SweepResult) for _, result in loaded):
            _write(args.output, _sweep_page(args, results))
            return 0
        if any(isinstance(result, FleetResult) for _, result in loaded):
            _write(args.output, _fleet_page(args, loaded))
            return 0
        content, interrupted = _from_results(args, loaded), False
    else:
        content, interrupted = _measured(args, model)
    if model is None:
        _write(args.output, render_report(content))
        return EXIT_INTERRUPTED if interrupted else 0
    try:
        page = render_report(content)
    except Exception:  # a bug in a renderer: what was measured is kept, and the page can be made again from it
        saved = _save_measurements(content, args.output)
        print(f"flopbench: the measurements were saved to {', '.join(map(str, saved))}; "
              f"flopbench report {' '.join(map(str, saved))} -o {args.output} renders them", file=sys.stderr)
        raise
    _write(args.output, page)
    return EXIT_INTERRUPTED if interrupted else 0


def _save_measurements(content, output: str) -> list[Path]:
    """The count, the bench and each profile of a page that could not be rendered, as JSON in a new
    folder beside the page (never over a file that is there)."""
    import tempfile

    from ..results.documents import save_result

    target = Path(output)
    folder = Path(tempfile.mkdtemp(prefix=f"{target.name}.measured-", dir=target.parent if str(target.parent) else "."))
    parts = [("count", content.cost), ("bench", content.bench)]
    parts += [(f"profile-{profile.engine.get('engine', index)}", profile) for index, profile in enumerate(content.profiles)]
    saved = []
    for name, result in parts:
        if result is not None:
            saved.append(save_result(result, folder / f"{name}.json"))
    return saved


def _write(path: str, page: str) -> None:
    from ..results import writing

    writing.write_text_atomic(path, page)
    console(stderr=True).print(f"wrote {path} ({len(page.encode('utf-8')) / 1e3:,.0f} kB)", markup=False)


def _fleet_page(args, loaded: list[tuple[str, object]]) -> str:
    """The machines of a gathered fleet file side by side, on the comparison page; the file alone."""
    from ..errors import ResultFileError
    from ..fleet.compare import side_by_side
    from ..fleet.records import FleetResult
    from ..render.compare import render_comparison_page

    path, fleet = next((path, result) for path, result in loaded if isinstance(result, FleetResult))
    if len(loaded) > 1:
        raise ResultFileError(f"{Path(path).name} is a gathered fleet file, shown on a page of its own",
                              f"give it alone: flopbench report {path} -o page.html")
    return render_comparison_page(side_by_side(fleet), command_line(args))


def _measured(args, model: str):
    from ..counting import count
    from ..measure.bench import bench
    from ..measure.engines import EngineConfig
    from ..measure.inputs import files_read
    from ..measure.policy import RunPolicy
    from ..render.report import ReportContent

    for name, default in MEASURING_FLAGS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    check_output(args.output, protect=files_read(model, args.input))
    engines = engine_names(args.engine)  # unknown names fail before any loading
    config = EngineConfig(device=args.device, hint=args.hint, nstreams=args.nstreams, nthreads=args.nthreads,
                          nireq=args.nireq, precision=args.precision)
    policy = RunPolicy.from_flags(seconds=args.seconds, niter=args.niter, warmup=args.warmup)  # as bench: benchmark_app's meaning
    cost = count(model, shape=args.shape, include_other=args.include_other, batch=args.batch)
    announced: set[str] = set()

    def on_progress(engine: str, fraction: float) -> None:
        if engine not in announced and fraction < 1.0:
            announced.add(engine)
            print(f"flopbench: measuring {engine} (Ctrl-C stops and keeps what was measured)", file=sys.stderr, flush=True)

    report = bench(model, engines=engines, config=config, policy=policy, inputs=args.input, shape=args.shape,
                   batch=args.batch, seed=args.seed, progress=on_progress)
    interrupted = report.interrupted
    profiles = []
    skipped: list[str] = []
    if not args.no_profile and not interrupted:
        from ..errors import ProfilingError
        from ..measure.engines import get_engine
        from ..profiling.profile import profile

        def on_step(text: str) -> None:
            print(f"flopbench: {text} (Ctrl-C stops and keeps what was measured)", file=sys.stderr, flush=True)

        try:
            for name in engines:
                try:  # an engine that cannot time layers leaves its profile out, and the page says why
                    get_engine(name).check_profilable(args.device)
                except ProfilingError as exc:
                    skipped.append(f"no per-layer profile on {name}: {exc.problem}")
                    continue
                profiled = profile(model, engine=name, device=args.device, precision=args.precision,
                                   iterations=args.profile_niter, shape=args.shape, batch=args.batch, inputs=args.input,
                                   seed=args.seed, progress=on_step)
                profiles.append(profiled)
                if not profiled.complete:
                    interrupted = True
                    break
        except KeyboardInterrupt:  # while the roofline was measured: the count and the bench are kept
            interrupted = True
    notes = (*skipped, *(("interrupted (Ctrl-C): the page shows what was measured until then",) if interrupted else ()))
    return (ReportContent(cost=cost, bench=report, profiles=tuple(profiles), command=command_line(args), notes=notes),
            interrupted)


def _sweep_page(args, paths: list[str]) -> str:
    """The page of a sweep measured earlier (flopbench study sepconv's results.json), alone."""
    from ..errors import ResultFileError
    from ..render.study import render_study_page
    from ..study.sweep import load_sweep

    if len(paths) != 1:
        raise ResultFileError(f"a sweep's results make a page of their own, got {len(paths)} result files",
                              "give the study's results.json alone")
    return render_study_page(load_sweep(paths[0]), command_line(args), sources=paths)


def _from_results(args, loaded: list[tuple[str, object]]):
    """The page of results measured earlier: at most one count, any bench results of one machine."""
    from ..counting.cost import ModelCost
    from ..errors import ResultFileError
    from ..measure.bench import BenchReport
    from ..profiling.profile import ProfileResult
    from ..render.report import ReportContent

    paths = [path for path, _ in loaded]
    costs, benches, profiles = [], [], []
    for path, result in loaded:
        if isinstance(result, ModelCost):
            costs.append((path, result))
        elif isinstance(result, BenchReport):
            benches.append(result)
        elif isinstance(result, ProfileResult):
            profiles.append(result)
        else:
            raise ResultFileError(f"{Path(path).name} holds a {type(result).__name__}, which a report does not show",
                                  "give the JSON of flopbench flops (-o cost.json), bench (--json bench.json) and profile (-o profile.json)")
    if len(costs) > 1:
        raise ResultFileError(f"{len(costs)} count results given ({', '.join(Path(p).name for p, _ in costs)}); a report shows one model",
                              "give one count result (flopbench compare puts several models side by side)")
    cost = costs[0][1] if costs else None
    if cost is not None and args.include_other:
        cost = replace(cost, include_other=True)
    bench = benches[0].merge(*benches[1:]) if len(benches) > 1 else (benches[0] if benches else None)
    notes = []
    if cost is not None and bench is not None:
        measured = sorted({Path(r.model).stem for r in bench.results})
        if measured and measured != [Path(cost.model).stem]:
            notes.append(f"the count is of {cost.model}, the measurement of {', '.join(r.model for r in bench.results)}: "
                         "check that they are the same model")
    engines = [str(p.engine.get("engine")) for p in profiles]
    if len(set(engines)) != len(engines):
        raise ResultFileError(f"two profiles of one engine given ({', '.join(engines)}); a report shows one per engine",
                              "give one profile per engine")
    if profiles and cost is None:
        raise ResultFileError("a profile needs the count of its model to be shown layer by layer",
                              "add the JSON of flopbench flops MODEL -o cost.json")
    if bench is not None and not bench.complete:
        notes.append("the measurement was interrupted or stopped early: the page shows what was measured")
    return ReportContent(cost=cost, bench=bench, profiles=tuple(profiles), command=command_line(args), sources=tuple(paths),
                         notes=tuple(notes))
