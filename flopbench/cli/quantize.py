"""`flopbench quantize`: write an INT8 twin of a float model (NNCF post-training quantization)."""
from __future__ import annotations

import contextlib
import sys

from .arguments import add_model
from .output import check_outputs, warn, write_measured


def add_parser(commands) -> None:
    quantize = commands.add_parser("quantize", help="write an INT8 twin of a float model (NNCF post-training quantization; needs flopbench[int8])")
    add_model(quantize)
    quantize.add_argument("-o", "--output", required=True, help="folder to write MODEL_NAME.xml/.bin into, or the .xml path")
    quantize.add_argument("--calibration", metavar="DIR", help="folder of .npy files, one calibration sample each (default: seeded random data)")
    quantize.add_argument("--samples", type=int, help="calibration samples (default 300 random ones; with --calibration, at most this many files)")
    quantize.add_argument("--seed", type=int, default=0, help="seed of the random calibration data (default 0)")
    quantize.add_argument("-b", "--batch", type=int, help="batch size (default: the model's, or 1 if dynamic)")
    quantize.add_argument("--json", help="also write the result as JSON (atomically)")
    quantize.set_defaults(handler=run_command)


def run_command(args) -> int:
    from ..model import source_files
    from ..quantize import quantize
    from ..render.quantize import quantize_json, quantize_lines, quantize_warnings

    check_outputs({"-o": args.output, "--json": args.json}, protect=source_files(args.model), model="-o")
    with _torch_unimportable():
        result = quantize(args.model, args.output, calibration=args.calibration, samples=args.samples, seed=args.seed,
                          shape=args.shape, batch=args.batch)
    print("\n".join(quantize_lines(result)))
    warn(quantize_warnings(result))
    if args.json:
        write_measured(args.json, quantize_json(result))
    return 0


@contextlib.contextmanager
def _torch_unimportable():
    """NNCF imports torch when it is installed (its tensor functions, and the first question of which
    framework a model belongs to), which is most of the command's time; the command quantizes a model
    file OpenVINO reads, which needs none of it. While it runs, `import torch` fails as on a machine
    without torch, which NNCF takes as such; a torch already loaded is left alone, and once the
    command is done torch imports again (main() called in-process)."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None
    try:
        yield
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]
