"""`flopbench study sepconv`: the sweep that says when fewer FLOPs mean less time."""
from __future__ import annotations

import sys

from ..errors import EXIT_INTERRUPTED, OptionError
from ..results.status import DONE

STUDY_FILES = ("points.json", "results.json", "summary.md", "plot.png", "fleet.json")  # what a sweep keeps in -o DIR


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise OptionError(f"{text!r} is not a list of whole numbers", "e.g. 16,64,256") from None


def add_parser(commands) -> None:
    study = commands.add_parser("study", help="sepconv: the sweep of standard vs separable convolutions; mobilenet: the paper's tables")
    study.add_argument("name", metavar="STUDY", help="sepconv (the sweep) or mobilenet (the MobileNet paper's tables, counted)")
    study.add_argument("-o", "--output",
                       help="sepconv: the folder for the points, results, plot and summary (default ./sepconv-study; a re-run "
                            "skips the points done); mobilenet: a file for the tables (format from its suffix)")
    study.add_argument("--points", help="a JSON file of points to run instead of the generated grid")
    study.add_argument("--quick", action="store_true", help="a small sweep (12 points, about a minute or two here)")
    study.add_argument("--channels", help="input channels, comma-separated (default 16,64,256)")
    study.add_argument("--out-channels", help="output channels (default: as many as in)")
    study.add_argument("--kernel", help="kernel sizes (default 3,5)")
    study.add_argument("--size", help="spatial sizes (default 56,14)")
    study.add_argument("--stride", help="strides (default 1,2)")
    from ..study.sweep import CONFIGS

    study.add_argument("--configs", help=f"engine:precision list (default {','.join(CONFIGS)})")
    study.add_argument("-t", "--time", type=float, dest="seconds", help="seconds per model per repeat (default 0.2; --quick 0.15)")
    study.add_argument("--repeats", type=int, help="repeats of each measurement, for the spread (default 3)")
    study.add_argument("--profile-iterations", type=int, help="profiled inferences per model (default 10)")
    study.add_argument("--format", help="what to print: table (default), json or markdown")
    study.add_argument("--html", metavar="FILE", help="also write the sweep as one self-contained HTML page (as flopbench report); "
                                                      "with every point already done in -o, nothing is measured again")
    study.add_argument("--ray", action="store_true", help="spread the points over a Ray cluster's nodes (flopbench fleet); "
                                                          "without --address, a local Ray started for the run")
    study.add_argument("--address", help="the Ray cluster (HOST:PORT, as ray start --head printed); implies --ray")
    study.add_argument("--resource", help="with --ray: only the nodes carrying this Ray resource")
    study.set_defaults(handler=run_command)


def _options(args):
    from dataclasses import replace

    from ..study.sweep import QUICK, SweepOptions

    options = QUICK if args.quick else SweepOptions()
    changes = {}
    for flag, field in (("channels", "channels"), ("out_channels", "out_channels"), ("kernel", "kernels"),
                        ("size", "sizes"), ("stride", "strides")):
        value = getattr(args, flag)
        if value is not None:
            changes[field] = _ints(value)
    if args.configs is not None:
        changes["configs"] = tuple(c for c in args.configs.split(",") if c.strip())
    for flag in ("seconds", "repeats", "profile_iterations"):
        if getattr(args, flag) is not None:
            changes[flag] = getattr(args, flag)
    return replace(options, **changes)


def run_command(args) -> int:
    from pathlib import Path

    from ..render.registry import check_format, render
    from ..render.study import plot_png, summary_markdown
    from ..results import writing
    from ..study.sweep import check_points, generate_points, load_points, run_sweep
    from .output import check_output, emit

    if args.name not in ("sepconv", "mobilenet"):
        raise OptionError(f"unknown study {args.name!r}", "choose sepconv (the sweep) or mobilenet (the paper's tables)")
    if args.name == "mobilenet":
        if args.html:
            raise OptionError("--html is for study sepconv", "drop --html; study mobilenet prints the paper's tables (--format markdown)")
        from .output import format_for

        return _mobilenet(check_format("paper", format_for(args.output, args.format)), args.output)
    fmt = check_format("study", args.format or "table")
    options = _options(args)
    if args.points:
        points = load_points(args.points)
        grid_flags = [f for f in ("channels", "out_channels", "kernel", "size", "stride", "configs") if getattr(args, f) is not None]
        if grid_flags or args.quick:
            raise OptionError("--points gives the points: the grid options do not apply", "drop --quick and the grid options, or --points")
        overrides = {f: getattr(args, f) for f in ("seconds", "repeats", "profile_iterations") if getattr(args, f) is not None}
        points = check_points([{**p, **overrides} for p in points])
    else:
        points = generate_points(options)
    folder = Path(args.output or "sepconv-study")
    inputs = [args.points] if args.points else []
    if args.html:  # refused before the sweep, and before its folder is made
        _check_page(args.html, folder, inputs)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from ..errors import OutputError

        raise OutputError(f"cannot create folder {folder} ({exc.strerror or exc})", "choose a folder you can write to") from None
    check_output(folder / "results.json", protect=inputs)  # held: two sweeps in one folder would disturb each other

    def on_progress(index: int, total: int, point, record) -> None:
        if record is None:
            print(f"flopbench: [{index + 1}/{total}] {point['key']}", file=sys.stderr, flush=True)
        elif record.status != DONE:
            print(f"flopbench: [{index + 1}/{total}] {point['key']} failed: {record.reason}", file=sys.stderr, flush=True)

    if args.ray or args.address:
        result = _on_fleet(args, points, folder)
    else:
        if args.resource:
            raise OptionError("--resource chooses Ray nodes", "add --ray (or --address HOST:PORT), or drop --resource")
        _say_uncalibrated(points)
        result = run_sweep(points, folder, progress=on_progress)
    if result.skipped:
        print(f"flopbench: {len(result.skipped)} point(s) already done in {folder / 'results.json'}, skipped", file=sys.stderr)
    if any(r.status == DONE for r in result.records):
        writing.write_bytes_atomic(folder / "plot.png", plot_png(result))
    writing.write_text_atomic(folder / "summary.md", summary_markdown(result))
    emit(render("study", fmt, result), None)
    print(f"flopbench: wrote {folder / 'points.json'}, {folder / 'results.json'}, {folder / 'summary.md'}"
          + (f", {folder / 'plot.png'}" if (folder / 'plot.png').exists() else ""), file=sys.stderr)
    if args.html:
        from ..render.study import render_study_page
        from .arguments import command_line
        from .output import write_measured

        notes = ("interrupted (Ctrl-C): the page shows the points measured until then",) if result.interrupted else ()
        write_measured(args.html, render_study_page(result, command_line(args), notes=notes))
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.records and not any(r.status == DONE for r in result.records):
        # nothing was measured: a caller (a script, CI) must not take the sweep for done
        first = next((r.reason for r in result.records if r.reason), "")
        raise OptionError(f"none of the {len(result.records)} point(s) ran (each failure and its reason is in "
                          f"{folder / 'results.json'}; the first: {first})", "fix the points (their engine, device, precision) and run again")
    return 0


def _say_uncalibrated(points) -> None:
    """A note per engine and precision this machine has no calibration for: their points get no
    predicted time ratio, and the note says how to calibrate. Never an error."""
    from ..errors import CalibrationError
    from ..study.sweep import calibration_for

    seen = set()
    for point in points:
        config = f"{point['engine']}:{point['precision']}"
        if config in seen:
            continue
        seen.add(config)
        try:
            calibration_for(point)
        except CalibrationError as exc:
            print(f"flopbench: no predicted time ratio for {config}: {exc.problem}; {exc.fix}", file=sys.stderr, flush=True)


def _check_page(page: str, folder, inputs) -> None:
    """The page may be neither an input nor one of the files the sweep keeps in its folder. A page
    inside a folder the sweep has not made yet is checked with that folder."""
    import os
    from pathlib import Path

    from ..errors import OutputError
    from ..results import writing

    target, own = Path(os.path.realpath(page)), Path(os.path.realpath(folder))
    if target.parent == own and target.name in STUDY_FILES:
        raise OutputError(f"--html {page} is the sweep's own {target.name}; writing the page there would destroy it",
                          "name the page otherwise, e.g. --html sepconv.html")
    if target.parent != own or own.exists():
        writing.check_writable(page, protect=inputs)


def _on_fleet(args, points, folder):
    """The sweep on the cluster: fleet.json grows a record per point as each ends (a re-run skips
    what is done); results.json is then written in the study's own form, each record with its node."""
    import json

    from ..fleet.study import study_on_fleet, study_records
    from ..results import writing
    from ..study.sweep import SweepResult, points_document
    from .fleet import ProgressView

    writing.write_text_atomic(folder / "points.json", json.dumps(points_document(points), indent=1) + "\n")
    with ProgressView() as progress:
        fleet = study_on_fleet(points, folder / "fleet.json", address=args.address, resource=args.resource, progress=progress)
    records = study_records(fleet, points)
    result = SweepResult(points=tuple(points), records=tuple(records), interrupted=fleet.interrupted,
                         metadata={**fleet.metadata, "nodes": fleet.nodes})
    writing.write_text_atomic(folder / "results.json", json.dumps(result.to_dict(), indent=1) + "\n")
    return result


def _mobilenet(fmt: str, output: str | None) -> int:
    import tempfile

    from ..render.registry import render
    from ..study.paper import paper_tables
    from .output import check_output, emit

    if output:  # held from now on, and refused before the models are built
        check_output(output)
    with tempfile.TemporaryDirectory(prefix="flopbench-mobilenet-") as folder:
        tables = paper_tables(folder)
    emit(render("paper", fmt, tables), output)
    return 0
