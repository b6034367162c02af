"""`flopbench fleet bench|profile|sweep`: the command-line face of `flopbench.fleet`."""
from __future__ import annotations

import sys

from ..errors import EXIT_INTERRUPTED, OptionError
from ..measure.engines import DEFAULT_ENGINE
from .arguments import (add_engine_flags, add_model_flags, add_profile_length, add_run_flags, engine_config, engine_names,
                        model_spec, run_settings)
from .output import check_output, console


def _add_cluster_flags(parser) -> None:
    parser.add_argument("--address", help="the Ray cluster (HOST:PORT, as ray start --head printed); "
                                          "default: a local Ray started for this run (this machine, one measurement slot)")
    parser.add_argument("--resource", help="only the nodes carrying this Ray resource (ray start --resources='{\"NAME\": 1, ...}')")


def _add_models_and_inputs(parser) -> None:
    parser.add_argument("models", metavar="MODEL", nargs="+", help="model files (IR .xml with its .bin, .onnx, .tflite); sent to the nodes by content")
    add_model_flags(parser, shape=True, inputs_help="input .npy (one per input, or name:file.npy), sent to the nodes by content; "
                                                    "seeded random if omitted")


def add_parser(commands) -> None:
    fleet = commands.add_parser("fleet", help="the same measurements on every node of a Ray cluster, one measurement per node at a time")
    actions = fleet.add_subparsers(dest="fleet_command", metavar="ACTION", parser_class=type(fleet))

    bench = actions.add_parser("bench", help="benchmark the models on every node: one result per node, a column per machine")
    _add_models_and_inputs(bench)
    add_run_flags(bench)
    _add_cluster_flags(bench)
    bench.add_argument("--json", help="write the gathered results (flopbench/fleet/1) as each node finishes; an existing file resumes")
    bench.set_defaults(handler=run_bench)

    profile = actions.add_parser("profile", help="profile the models on every node: each layer's time on that node's own roofline")
    _add_models_and_inputs(profile)
    add_engine_flags(profile, requests=False, tuning=False)
    add_profile_length(profile, per=" per node")
    _add_cluster_flags(profile)
    profile.add_argument("--json", help="write the gathered results (flopbench/fleet/1) as each node finishes; an existing file resumes")
    profile.set_defaults(handler=run_profile)

    sweep = actions.add_parser("sweep", help="spread a points file's points over the nodes; each ended point is written at once")
    sweep.add_argument("points", metavar="POINTS", help=f'JSON list of bench points: [{{"model": "m.onnx", "engines": ["{DEFAULT_ENGINE}"], '
                                                        '"batch": 2, "seconds": 1}, ...]; models relative to the file')
    sweep.add_argument("--json", required=True, help="the results file (flopbench/fleet/1); a re-run with it skips the points done")
    sweep.add_argument("--retries", type=int, default=2, help="tries of a point on another node after its node died (default 2)")
    sweep.add_argument("--any-machine", action="store_true", help="use nodes of every machine kind (default: the kind most nodes share)")
    _add_cluster_flags(sweep)
    sweep.set_defaults(handler=run_sweep)
    fleet.set_defaults(handler=_needs_action)


def _needs_action(args) -> int:
    raise OptionError("flopbench fleet needs an action",
                      "give one: flopbench fleet bench MODEL..., fleet profile MODEL..., or fleet sweep POINTS --json FILE")


class ProgressView:
    """A bar of points done per node on a terminal; a line per ended point otherwise."""

    def __init__(self):
        self.bar = None
        self.tasks: dict[str, int] = {}
        if sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
                                TimeElapsedColumn(), console=console(stderr=True), transient=False)

        self.started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.bar is not None and self.started:
            self.bar.stop()

    def _start(self, state) -> None:
        """Shown once the cluster is there and the points are known, not before a refusal."""
        self.started = True
        if self.bar is not None:
            self.bar.start()
        else:
            before = f"; {state.skipped} of {state.total} point(s) were done before and are skipped" if state.skipped else ""
            print(f"flopbench: fleet run under way{before} (Ctrl-C stops it and keeps every point that ended)", file=sys.stderr, flush=True)

    def __call__(self, state) -> None:
        if not self.started:
            self._start(state)
        if self.bar is None:
            if state.last:
                print(f"flopbench: {state.last}", file=sys.stderr, flush=True)
            return
        pending = state.total - state.skipped
        if "all" not in self.tasks:
            self.tasks["all"] = self.bar.add_task("all points", total=pending, detail="")
        self.bar.update(self.tasks["all"], completed=state.done + state.failed,
                        detail=f"{state.running} running, {state.failed} failed" + (f", {state.skipped} done before" if state.skipped else ""))
        for node_id, node in state.nodes.items():
            if node_id not in self.tasks:
                self.tasks[node_id] = self.bar.add_task(f"  {node.label}", total=None, detail="")
            self.bar.update(self.tasks[node_id], completed=node.done + node.failed,
                            detail=f"{node.done} done, {node.running} running, {node.failed} failed")
        if state.last and ("left" in state.last or "different machine" in state.last or "trying it again" in state.last):
            self.bar.console.print(f"flopbench: {state.last}", markup=False)


def _finish(result, path: str | None) -> int:
    if path:
        console(stderr=True).print(f"wrote {path}" + ("" if result.complete else " (incomplete run)"), markup=False)
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.points and not result.done:
        # nothing was measured: a caller (a script, CI) must not take the run for done, as with study --points
        first = next((p.error for p in result.points if p.error), "")
        kept = f"each failure and its reason is in {path}" if path else "--json FILE keeps each failure and its reason"
        raise OptionError(f"none of the {len(result.points)} point(s) ran ({kept}; the first: {first})",
                          "fix the points (their engine, device, precision) and run again")
    return 0


def run_bench(args) -> int:
    from ..fleet.bench import fleet_bench
    from ..render.fleet import fleet_bench_table

    check_output(args.json, protect=_files_read(args))
    engines = engine_names(args.engine)
    spec, (config, policy) = model_spec(args, args.models[0]), run_settings(args)  # the settings every model shares
    with ProgressView() as progress:
        result = fleet_bench(args.models, address=args.address, resource=args.resource, engines=engines, config=config,
                             policy=policy, shape=spec.shape, batch=spec.batch, seed=spec.seed, inputs=spec.input_files,
                             results_path=args.json, progress=progress)
    console().print(fleet_bench_table(result))
    return _finish(result, args.json)


def _files_read(args) -> list:
    from ..measure.inputs import input_paths
    from ..model.reading import source_files

    return [f for model in args.models for f in source_files(model)] + input_paths(args.input)


def run_profile(args) -> int:
    from ..fleet.profile import fleet_profile
    from ..render.fleet import fleet_profile_table

    check_output(args.json, protect=_files_read(args))
    with ProgressView() as progress:
        spec, config = model_spec(args, args.models[0]), engine_config(args)  # the settings every model shares
        result = fleet_profile(args.models, address=args.address, resource=args.resource, engines=engine_names(args.engine),
                               device=config.device, precision=config.precision, iterations=args.niter, warmup=args.warmup,
                               shape=spec.shape, batch=spec.batch, seed=spec.seed, inputs=spec.input_files, results_path=args.json,
                               progress=progress)
    console().print(fleet_profile_table(result))
    return _finish(result, args.json)


def run_sweep(args) -> int:
    from pathlib import Path

    from ..fleet.points import read_points_file
    from ..fleet.sweep import fleet_sweep
    from ..render.fleet import sweep_summary

    check_output(args.json, protect=[args.points])
    points = read_points_file(args.points)
    with ProgressView() as progress:
        result = fleet_sweep(points, args.json, address=args.address, resource=args.resource, retries=args.retries,
                             any_machine=args.any_machine, base=Path(args.points).parent, protect=[args.points],
                             metadata={"points_file": str(args.points)}, progress=progress)
    sys.stdout.write(sweep_summary(result))
    return _finish(result, args.json)
