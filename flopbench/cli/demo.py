"""`flopbench demo`: the main job: write sep_cnn, count it (Task 1), run it (Task 2)."""
from __future__ import annotations

from pathlib import Path

from .output import show, warn
from .run import print_run


def add_parser(commands) -> None:
    demo = commands.add_parser("demo", help="write the exercise's sep_cnn model, count its FLOPs and run it (the main job)")
    demo.add_argument("-o", "--output", default="sep_cnn", help="folder for the model files (default ./sep_cnn)")
    demo.add_argument("-niter", "--niter", type=int, default=10, help="iterations of Task 2 (default 10)")
    demo.add_argument("-d", "--device", default="CPU")
    demo.set_defaults(handler=run_command)


def run_command(args) -> int:
    from .. import zoo
    from ..counting import count
    from ..measure.engines import DEFAULT_ENGINE, get_engine
    from ..measure.run import check_iterations, run
    from ..render.cost import to_table

    check_iterations(args.niter)  # refused before anything is written or printed
    get_engine(DEFAULT_ENGINE).check_device(args.device)
    out = Path(args.output)
    files = zoo.write_zoo_model("sep_cnn", out)
    print(f"Wrote the exercise's sep_cnn model to {out}/: {files.xml.name}, {files.bin.name}, {files.onnx.name}, {files.image.name}\n")
    print("Task 1: FLOPs, layer by layer")
    show(to_table(count(files.xml)))
    print(f"\nTask 2: {files.xml.name} on {get_engine(DEFAULT_ENGINE).display_name}, {args.niter} iterations on {files.image.name}")
    result = run(files.xml, inputs=[str(files.image)], niter=args.niter, device=args.device)
    warn(result.warnings)
    print_run(result)
    return 0
