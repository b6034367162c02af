"""Where a count's time goes, against what reading the graph through OpenVINO's binding costs at least.

A report, not a test: it always exits 0. For each model (the `onnx` package's light models and the
zoo's MobileNetV2 as ONNX), in one process, alternating, medians of `--rounds`:

  read_model   openvino.Core().read_model(path): the floor of any count that reads through OpenVINO
  walk         the least a count must ask the binding, on the model read_model returned: each node's
               type and name once, each input's producer once (to tell constants from ops), each op
               output's shape (as text) and element type once; nothing else
  count        flopbench.count(path)

and one count's stages, timed separately: the weight-free ONNX twin, read_model of the twin, the
graph walk (`Graph`), the op rows, the route conventions, the layers, the activation memory.
The ratio (read_model + walk) / read_model is what a count costs before any counting, so issue 18's
target (count <= 1.5x read_model) is out of reach wherever that ratio is close to 1.5.

    python benchmarks/count_floor.py [--rounds 9] [--clock cpu|wall] [--models resnet50,mobilenet] [--dir DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET = 1.5  # count / read_model, issue 18


def models(folder: Path) -> dict[str, Path]:
    import onnx

    from flopbench.zoo import write_zoo_model

    light = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
    found = {p.stem: p for p in sorted(light.glob("light_*.onnx"))}
    target = folder / "mobilenet_v2" / "mobilenet_v2.onnx"
    if not target.exists():
        with contextlib.redirect_stdout(io.StringIO()):
            write_zoo_model("mobilenet_v2", folder / "mobilenet_v2", fmt="onnx")
    found["zoo_mobilenet_v2"] = target
    return found


def walk(model) -> None:
    """The binding calls any count needs at least (see the module's docstring)."""
    constants = set()
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        node.get_name()
        if kind == "Constant":
            constants.add(node)
            continue
        producers = [out.get_node() for out in node.input_values()]
        if kind != "Result" and producers and all(p in constants for p in producers):
            constants.add(node)
            continue
        for index in range(node.get_output_size()):
            str(node.get_output_partial_shape(index))
            node.get_output_element_type(index)


def stages(path: Path, clock) -> dict[str, float]:
    """One count's stages, each timed once (the collector paused, as a count pauses it)."""
    from flopbench.counting.conventions import same_on_every_route
    from flopbench.counting.graph import Graph
    from flopbench.counting.layers import group_layers
    from flopbench.counting.memory import activation_memory
    from flopbench.counting.ops import op_rows
    from flopbench.model.core import openvino_core
    from flopbench.model.onnx_twin import weightless_twin

    times: dict[str, float] = {}
    gc.disable()
    try:
        start = clock()
        twin = weightless_twin(path)
        times["twin"] = clock() - start
        start = clock()
        model = openvino_core().read_model(twin.model_bytes)
        times["read_model(twin)"] = clock() - start
        start = clock()
        graph = Graph(model, frozenset(twin.weight_inputs))
        times["graph"] = clock() - start
        start = clock()
        rows = op_rows(graph)
        times["op rows"] = clock() - start
        start = clock()
        rows = same_on_every_route(graph, rows)
        times["conventions"] = clock() - start
        start = clock()
        group_layers(rows, graph.constants)
        times["layers"] = clock() - start
        start = clock()
        activation_memory(graph)
        times["memory"] = clock() - start
    finally:
        gc.enable()
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per model (default 9)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="cpu", help="CPU time of this process (default; steadier on a shared "
                                                                             "machine) or wall time")
    parser.add_argument("--models", default="", help="comma-separated parts of model names to keep (default: all)")
    parser.add_argument("--dir", type=Path, default=None, help="where the zoo model is written (a temp dir by default)")
    args = parser.parse_args(argv)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    import flopbench
    from flopbench.model.core import openvino_core

    core = openvino_core()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="flopbench-floor-"))
    chosen = models(folder)
    wanted = [w for w in args.models.split(",") if w]
    if wanted:
        chosen = {n: p for n, p in chosen.items() if any(w in n for w in wanted)}
    print(f"clock: {'CPU time' if args.clock == 'cpu' else 'wall time'}; medians of {max(1, args.rounds)} alternating rounds, ms")
    print(f"{'model':20}{'nodes':>7}{'read_model':>12}{'walk':>8}{'count':>8}{'(read+walk)/read':>18}{'count/read':>12}   "
          "one count's stages, ms")
    for name, path in chosen.items():
        model = core.read_model(str(path))
        sides = {"read": lambda p=path: core.read_model(str(p)), "walk": lambda m=model: walk(m), "count": lambda p=path: flopbench.count(p)}
        for side in sides.values():
            side()
        times: dict[str, list[float]] = {side: [] for side in sides}
        parts: list[dict[str, float]] = []
        for index in range(max(1, args.rounds)):
            order = list(sides)[index % 3:] + list(sides)[:index % 3]
            for side in order:
                start = clock()
                sides[side]()
                times[side].append(clock() - start)
            parts.append(stages(path, clock))
        median = {side: statistics.median(values) for side, values in times.items()}
        stage_text = "  ".join(f"{stage} {statistics.median(p[stage] for p in parts) * 1e3:.1f}" for stage in parts[0])
        print(f"{name:20}{len(model.get_ordered_ops()):7d}{median['read'] * 1e3:12.1f}{median['walk'] * 1e3:8.1f}{median['count'] * 1e3:8.1f}"
              f"{(median['read'] + median['walk']) / median['read']:18.2f}{median['count'] / median['read']:12.2f}   {stage_text}", flush=True)
    print(f"\ntarget (issue 18): count / read_model <= {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
