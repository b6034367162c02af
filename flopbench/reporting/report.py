"""`report()`: one self-contained HTML page of a model -- counted, benchmarked and profiled now,
or rendered from result files measured earlier (or on another machine). `flopbench report` is this
function and a few lines of flags."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import OptionError, ProfilingError, ResultFileError
from ..measure.engines import DEFAULT_ENGINE, EngineConfig
from ..measure.policy import RunPolicy
from ..model.spec import ModelSpec

DEFAULT_PROFILE_ITERATIONS = 100
INTERRUPTED_NOTE = "interrupted (Ctrl-C): the page shows what was measured until then"


@dataclass(frozen=True)
class Report:
    """The page, and whether everything asked for was measured (False after Ctrl-C)."""

    html: str
    complete: bool = True
    inputs_read: tuple[str, ...] = ()  # the files the page was made from: never written over

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page atomically; never over a file it was made from."""
        from ..results.writing import check_writable, write_text_atomic

        check_writable(path, protect=list(self.inputs_read))
        write_text_atomic(path, self.html)
        return Path(path)

    def __str__(self) -> str:
        return self.html

    def _repr_html_(self) -> str:
        """In a notebook, the page itself, in a frame of its own (its styles and scripts stay inside)."""
        import html

        return f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;height:720px;border:0"></iframe>'


def is_result_file(source: Any) -> bool:
    return isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() == ".json"


def split_sources(sources: Sequence[Any]) -> tuple[Any, list[str]]:
    """One model to measure now, or result files (.json) to render: never both, never two models."""
    results = [os.fspath(s) for s in sources if is_result_file(s)]
    if results and len(results) != len(sources):
        raise OptionError("flopbench report takes either one model or result files (.json), not both",
                          "give the model alone to measure it now, or only the .json results of flops / bench")
    if not results and len(sources) != 1:
        raise OptionError(f"flopbench report measures one model, got {len(sources)}",
                          "give one model (flopbench compare puts several side by side)")
    return (None, results) if results else (sources[0], [])


def _as_sources(sources: Any) -> list[Any]:
    if isinstance(sources, (list, tuple)):
        return list(sources)
    return [sources]


def report(sources: Any, engines: Sequence[str] = (DEFAULT_ENGINE,), config: EngineConfig | None = None,
           policy: RunPolicy | None = None, *, profile: bool = True, profile_iterations: int = DEFAULT_PROFILE_ITERATIONS,
           include_other: bool = False, command: str | None = None, progress: Callable[[str], None] | None = None,
           unrendered: Callable[[Any], None] | None = None, **settings: Any) -> Report:
    """The page `flopbench report` writes, as a `Report` (`.html`, `.save(path)`).

    `sources` is one model -- a `ModelSpec`, or a file or model object with its settings as
    keywords (`shape`, `batch`, `inputs`, `seed`) -- to count, bench on each of `engines` (with
    `config` and `policy`, or their keywords: `precision="f32"`, `seconds=2` ...) and, unless
    `profile=False`, profile layer by layer; or the JSON results of flops / bench / profile
    measured earlier (a list of paths), a study's results.json, or one gathered fleet file.
    `progress` is told, in words, what is being measured. Ctrl-C keeps what was measured: the
    page says so and `complete` is False. `command` is the line the page says it was made by.
    Should the page fail to render after measuring (a bug), `unrendered` is handed what was
    measured (a `ReportContent`; `save_measurements` writes it as JSON) before the error goes on."""
    model, results = split_sources(_as_sources(sources))
    if results:
        given = {**settings, **({"config": config} if config is not None else {}), **({"policy": policy} if policy is not None else {})}
        if given or not profile or profile_iterations != DEFAULT_PROFILE_ITERATIONS or tuple(engines) != (DEFAULT_ENGINE,):
            named = sorted(given) + (["profile"] if not profile else []) + (
                ["profile_iterations"] if profile_iterations != DEFAULT_PROFILE_ITERATIONS else []) + (
                ["engines"] if tuple(engines) != (DEFAULT_ENGINE,) else [])
            raise OptionError(f"{', '.join(named)}: only for measuring a model, not for result files (they were measured already)",
                              "drop them, or give the model instead of its results")
        made_by = command if command is not None else _call("report", results)
        # never over a result read, nor over the points a sweep's results sit beside
        read = (*results, *(str(Path(path).parent / "points.json") for path in results))
        return Report(html=results_page(results, made_by, include_other), complete=True, inputs_read=read)
    from ..measure.settings import measurement_settings

    spec, config, policy = measurement_settings("report()", model, config, settings, policy)
    made_by = command if command is not None else _call("report", [spec.model])
    return measured_page(spec, engines, config, policy, profile=profile, profile_iterations=profile_iterations,
                         include_other=include_other, command=made_by, progress=progress, unrendered=unrendered)


def _call(name: str, sources: Sequence[Any]) -> str:
    """How a page made from Python says it was made."""
    return f"flopbench.{name}({', '.join(repr(os.fspath(s)) if isinstance(s, (str, os.PathLike)) else type(s).__name__ for s in sources)})"


def measured_page(spec: ModelSpec, engines: Sequence[str], config: EngineConfig, policy: RunPolicy, *, profile: bool,
                  profile_iterations: int, include_other: bool, command: str, progress: Callable[[str], None] | None,
                  unrendered: Callable[[Any], None] | None = None) -> Report:
    """Count, bench on every engine, then profile each (unless `profile` is False); Ctrl-C keeps
    what was measured until then."""
    from ..counting import count
    from ..measure.bench import bench
    from ..measure.engines import get_engine
    from ..measure.inputs import files_read
    from ..profiling.profile import profile as profile_model
    from ..render.report import ReportContent, render_report

    engines = list(dict.fromkeys(engines))
    for name in engines:  # unknown names fail before any loading
        get_engine(name)
    if profile:  # a damaged roofline cache is named now, not after the bench it would be lost with
        from ..profiling.roofline import cached_roofline

        for name in engines:
            try:
                get_engine(name).check_profilable(config.device)
            except ProfilingError:
                continue
            cached_roofline(name, config.device)
    cost = count(spec.model, shape=spec.shape, include_other=include_other, batch=spec.batch)
    announced: set[str] = set()

    def on_bench(engine: str, fraction: float) -> None:
        if progress is not None and engine not in announced and fraction < 1.0:
            announced.add(engine)
            progress(f"measuring {engine}")

    measured = bench(spec, engines, config, policy, progress=on_bench)
    interrupted = measured.interrupted
    profiles, skipped = [], []
    if profile and not interrupted:
        try:
            for name in engines:
                try:  # an engine that cannot time layers leaves its profile out, and the page says why
                    get_engine(name).check_profilable(config.device)
                except ProfilingError as exc:
                    skipped.append(f"no per-layer profile on {name}: {exc.problem}")
                    continue
                profiled = profile_model(spec, name, config, iterations=profile_iterations, progress=progress)
                profiles.append(profiled)
                if not profiled.complete:
                    interrupted = True
                    break
        except KeyboardInterrupt:  # while the roofline was measured: the count and the bench are kept
            interrupted = True
    content = ReportContent(cost=cost, bench=measured, profiles=tuple(profiles), command=command,
                            notes=(*skipped, *((INTERRUPTED_NOTE,) if interrupted else ())))
    read = tuple(str(path) for path in files_read(spec.model, spec.input_files)) if isinstance(spec.model, (str, os.PathLike)) else ()
    try:
        page = render_report(content)
    except Exception:  # a bug in a renderer: what was measured is handed on, so that it is not lost
        if unrendered is not None:
            unrendered(content)
        raise
    return Report(html=page, complete=not interrupted, inputs_read=read)


def save_measurements(content: Any, output: str | os.PathLike) -> list[Path]:
    """The count, the bench and each profile of a page that could not be rendered, as JSON in a new
    folder beside the page (never over a file that is there)."""
    import tempfile

    from ..results.documents import save_result

    target = Path(output)
    folder = Path(tempfile.mkdtemp(prefix=f"{target.name}.measured-", dir=target.parent if str(target.parent) else "."))
    parts = [("count", content.cost), ("bench", content.bench)]
    parts += [(f"profile-{profile.engine.get('engine', index)}", profile) for index, profile in enumerate(content.profiles)]
    return [save_result(result, folder / f"{name}.json") for name, result in parts if result is not None]


def results_page(paths: Sequence[str], command: str, include_other: bool = False) -> str:
    """The page of result files measured earlier: a sweep's or a gathered fleet file's page of
    their own, else the report of one count and any bench and profile results of one machine."""
    from ..results.documents import collector_paused

    with collector_paused():
        return _results_page(paths, command, include_other)


def _results_page(paths: Sequence[str], command: str, include_other: bool) -> str:
    from .. import load_result
    from ..fleet.records import FleetResult
    from ..study.sweep import SweepResult

    loaded = [(path, load_result(path)) for path in paths]
    if any(isinstance(result, SweepResult) for _, result in loaded):
        return _sweep_page(paths, command)
    if any(isinstance(result, FleetResult) for _, result in loaded):
        return _fleet_page(loaded, command)
    from ..render.report import render_report

    return render_report(_from_results(loaded, command, include_other))


def _fleet_page(loaded: list[tuple[str, object]], command: str) -> str:
    """The machines of a gathered fleet file side by side, on the comparison page; the file alone."""
    from ..fleet.compare import side_by_side
    from ..fleet.records import FleetResult
    from ..render.compare import render_comparison_page

    path, fleet = next((path, result) for path, result in loaded if isinstance(result, FleetResult))
    if len(loaded) > 1:
        raise ResultFileError(f"{Path(path).name} is a gathered fleet file, shown on a page of its own",
                              f"give it alone: flopbench report {path} -o page.html")
    return render_comparison_page(side_by_side(fleet), command)


def _sweep_page(paths: Sequence[str], command: str) -> str:
    """The page of a sweep measured earlier (flopbench study sepconv's results.json), alone."""
    from ..render.study import render_study_page
    from ..study.sweep import load_sweep

    if len(paths) != 1:
        raise ResultFileError(f"a sweep's results make a page of their own, got {len(paths)} result files",
                              "give the study's results.json alone")
    return render_study_page(load_sweep(paths[0]), command, sources=list(paths))


def _from_results(loaded: list[tuple[str, object]], command: str, include_other: bool):
    """The content of results measured earlier: at most one count, any bench results of one machine."""
    from ..counting.cost import ModelCost
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
    if cost is not None and include_other:
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
    return ReportContent(cost=cost, bench=bench, profiles=tuple(profiles), command=command, sources=tuple(paths),
                         notes=tuple(notes))
