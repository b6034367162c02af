"""Each flag group declared once, and turned into the API's values in one place: the model's flags
into a `ModelSpec`, the engine's into an `EngineConfig`, the run length's into a `RunPolicy`.

Every flag of a group has no argparse default (None): the values' own defaults apply, so a flag
left out means what it means in Python, and a command can tell which flags were given."""
from __future__ import annotations

MODEL_FLAGS = {"shape": "--shape", "batch": "-b", "input": "-i", "layout": "-layout", "seed": "--seed"}
ENGINE_FLAGS = {"engine": "--engine", "device": "-d", "hint": "-hint", "nireq": "-nireq", "nstreams": "-nstreams",
                "nthreads": "-nthreads", "precision": "--precision"}
LENGTH_FLAGS = {"seconds": "-t", "niter": "-niter", "min_iterations": "--min-iterations", "max_duration": "--max-duration",
                "warmup": "--warmup"}


def add_model(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file: IR .xml (with its .bin), .onnx, .tflite ...")
    parser.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")


def add_model_flags(parser, shape: bool = False, inputs: bool = True, layout: bool = False, seed: bool = True,
                    inputs_help: str = "input .npy (one per input, or name:file.npy); seeded random if omitted") -> None:
    """What the model is fed (a ModelSpec's fields); `shape` when the command has no `add_model`."""
    if shape:
        parser.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")
    parser.add_argument("-b", "--batch", type=int, help="batch size")
    if inputs:
        parser.add_argument("-i", "--input", action="append", help=inputs_help)
    if layout:
        parser.add_argument("-layout", "--layout", help="input layout of the -i files, as benchmark_app: input[NHWC] "
                                                        "(transposed to the model's NCHW), input[HWC->CHW], or NHWC for every input")
    if seed:
        parser.add_argument("--seed", type=int, help="seed of the random inputs (default 0)")


def add_engine_flags(parser, several: bool = True, requests: bool = True, tuning: bool = True) -> None:
    """The engine(s) and an EngineConfig's fields; `requests` for the commands that can run several
    requests at once (the hint, -nireq), `tuning` for those that pass streams and threads on."""
    from ..measure.engines import engine_choices  # here: a count's parser must not load the engines

    if several:
        parser.add_argument("--engine", action="append", help=engine_choices(several=True))
    else:
        parser.add_argument("--engine", help=engine_choices())
    parser.add_argument("-d", "--device", help="device (default CPU)")
    if requests:
        parser.add_argument("-hint", "--hint", help="latency (default: sync, one request), throughput (async) or none")
        parser.add_argument("-nireq", "--nireq", type=int, help="number of infer requests in throughput mode")
    if tuning:
        parser.add_argument("-nstreams", "--nstreams", type=int, help="number of streams (OpenVINO)")
        parser.add_argument("-nthreads", "--nthreads", type=int, help="number of threads")
    parser.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16 (default: the device's)")


def add_length_flags(parser, seconds: float = 10.0, niter: int = 100) -> None:
    """A RunPolicy's flags (benchmark_app's names), with this command's default length."""
    parser.add_argument("-t", "--time", type=float, dest="seconds",
                        help=f"measure each model and engine for about this many seconds, as benchmark_app "
                             f"(default: {seconds:g} s and {niter} runs when neither -t nor -niter is given)")
    parser.add_argument("-niter", "--niter", type=int, help="measure this many runs, as benchmark_app; with -t, both are met")
    parser.add_argument("--min-iterations", type=int,
                        help="a minimum number of runs that -t must also meet (MLPerf's minimum duration and minimum count)")
    parser.add_argument("--max-duration", type=float, help="hard cap on each measurement in seconds; a run stopped by it is marked incomplete")
    parser.add_argument("--warmup", type=int, help="warm-up runs, reported separately (default 5)")
    parser.set_defaults(default_seconds=seconds, default_niter=niter)


def add_run_flags(parser, seconds: float = 10.0, niter: int = 100) -> None:
    """bench's flags for every command that measures: engines, their settings, the run's length, the seed."""
    add_engine_flags(parser)
    add_length_flags(parser, seconds, niter)


def add_profile_length(parser, per: str = "") -> None:
    """How many inferences profile times (its own count, after its own warm-up)."""
    parser.add_argument("-niter", "--niter", type=int, default=100, help=f"profiled inferences{per} (default 100), after the warm-up")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up inferences, not counted (default 10)")


def engine_names(values: list[str] | str | None) -> list[str]:
    """--engine a,b --engine c → [a, b, c], each once; the default engine when none is given. Unknown names fail here."""
    from ..measure.engines import DEFAULT_ENGINE, get_engine

    names: list[str] = []
    for value in [values] if isinstance(values, str) else values or [DEFAULT_ENGINE]:
        names.extend(v.strip() for v in value.split(",") if v.strip())
    names = list(dict.fromkeys(names))
    for name in names:
        get_engine(name)
    return names


def _given(args, names) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def model_spec(args, model=None):
    """The ModelSpec of the model flags (of `model`, for a command that measures several)."""
    from ..model.spec import ModelSpec

    given = _given(args, MODEL_FLAGS)
    if "input" in given:
        given["inputs"] = given.pop("input")
    return ModelSpec(args.model if model is None else model, **given)


def engine_config(args, **fixed):
    """The EngineConfig of the engine flags (and `fixed` values the command sets itself)."""
    from ..measure.engines import EngineConfig

    return EngineConfig(**{**_given(args, set(ENGINE_FLAGS) - {"engine"}), **fixed})


def run_policy(args):
    """The RunPolicy of the length flags: benchmark_app's meaning of -t and -niter, this command's
    default length when neither is given."""
    from ..measure.policy import RunPolicy

    given = _given(args, LENGTH_FLAGS)
    return RunPolicy.from_flags(**{name: value for name, value in given.items()},
                                default_seconds=args.default_seconds, default_niter=args.default_niter)


def run_settings(args):
    """(EngineConfig, RunPolicy) of the run flags."""
    return engine_config(args), run_policy(args)


FLAG_NAMES = {**MODEL_FLAGS, **ENGINE_FLAGS, **LENGTH_FLAGS}


def measuring_flags(args, extra: dict[str, str] | None = None) -> dict[str, object]:
    """The measuring flags given (by dest), for a command that refuses them on result files."""
    return {name: getattr(args, name) for name in {**FLAG_NAMES, **(extra or {})} if getattr(args, name, None) not in (None, False)}


def refuse_measuring_flags(given: dict[str, object], names: dict[str, str] | None = None) -> None:
    """Refuse measuring flags (by dest) given with result files: those were measured already."""
    from ..errors import OptionError

    flags = {**FLAG_NAMES, **(names or {})}
    named = [flags.get(name, f"--{name.replace('_', '-')}") for name, value in given.items() if value not in (None, False)]
    if named:
        raise OptionError(f"{', '.join(named)}: only for measuring a model, not for result files (they were measured already)",
                          "drop them, or give the model instead of its results")


def command_line(args) -> str:
    """The command as typed, for a page or result that says how it was made."""
    import shlex
    import sys

    argv = getattr(args, "argv", None)
    return "flopbench " + shlex.join(argv if argv is not None else sys.argv[1:])


def add_table_flags(parser) -> None:
    """--columns and --wide: which columns of the table a terminal shows."""
    parser.add_argument("--columns", type=lambda text: tuple(c for c in text.split(",") if c.strip()), default=(),
                        metavar="A,B,...", help="show only these columns of the table (by their headers; the first is always shown)")
    parser.add_argument("--wide", action="store_true",
                        help="show every column even where the terminal is too narrow (by default columns are left out by priority, and said so)")
