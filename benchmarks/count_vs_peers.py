"""flopbench's count against other FLOP counters, side by side, in one process and as whole processes.

Models: the `onnx` package's nine light models (onnx/backend/test/data/light/: AlexNet ... VGG-19,
weights made at run time by ConstantOfShape), the zoo's sep_cnn, mobilenet_v1 and mobilenet_v2, and a MobileNetV2
written here as a torch nn.Module (torchvision's layout, random weights) and exported with
torch.onnx.export. Peers: onnx-tool (`Model(p); graph.shape_infer(); graph.profile()`) on every
ONNX file; fvcore, ptflops and thop on the MobileNetV2 module, when installed. They come from the
`benchmark` extra (`pip install ".[benchmark]"`), never from flopbench's own dependencies.

In process: every side runs once to warm up (the first OpenVINO read of an ONNX file loads its
frontend), then `--rounds` rounds, the order of the sides rotating each round; medians are compared.
The floor is OpenVINO's own `read_model` of the same file: target flopbench.count <= 1.5x it.
Whole processes: `python -m flopbench flops MODEL` against a minimal onnx-tool script, alternating,
target <= 1.4x; `import openvino; openvino.Core().read_model(MODEL)` is shown as the floor, and the
same with openvino imported without its conversion API, as flopbench's CLI imports it. Peak memory: the
VmHWM of one `flopbench flops` process per model, target < 100 MB.

    python benchmarks/count_vs_peers.py [--rounds 5] [--process-rounds 5] [--models resnet50,mobilenet_v2] [--dir DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

IN_PROCESS_TARGET = 1.5  # flopbench.count / read_model
PROCESS_TARGET = 1.4  # flopbench flops / the peer's script
PEAK_TARGET_MB = 100.0
PROCESS_MODELS = ("light_resnet50", "zoo_mobilenet_v2", "mobilenet_v2")

ONNX_TOOL_SCRIPT = """
import sys
import onnx_tool
model = onnx_tool.Model(sys.argv[1])
model.graph.shape_infer()
model.graph.profile()
print(model.graph.macs)
"""
# the floors of a whole-process count that reads through OpenVINO: its import, a Core and read_model
# of the file; and the same with `import openvino` leaving out its conversion API (openvino.tools.ovc
# and its telemetry), as flopbench's CLI imports it (flopbench/cli/lean_openvino.py)
FLOOR_SCRIPT = "import sys, openvino; openvino.Core().read_model(sys.argv[1])"
LEAN_FLOOR_SCRIPT = """
import sys
from flopbench.cli.lean_openvino import openvino_without_conversion_api
with openvino_without_conversion_api():
    import openvino
openvino.Core().read_model(sys.argv[1])
"""
# runs a command as a module and prints its process's peak resident memory (VmHWM) to stderr
PEAK_WRAPPER = """
import atexit, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                sys.stderr.write("PEAK_KB " + line.split()[1] + "\\n")
atexit.register(peak)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


# --- the models -------------------------------------------------------------------------------


def light_models() -> dict[str, Path]:
    import onnx

    folder = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
    return {p.stem: p for p in sorted(folder.glob("light_*.onnx"))}


def zoo_models(folder: Path) -> dict[str, Path]:
    from flopbench.zoo import write_zoo_model

    found = {}
    for name in ("sep_cnn", "mobilenet_v1", "mobilenet_v2"):
        target = folder / name / f"{name}.onnx"
        if not target.exists():
            with contextlib.redirect_stdout(io.StringIO()):
                write_zoo_model(name, folder / name)
        found[f"zoo_{name}"] = target
    return found


def mobilenet_v2_module():
    """MobileNetV2 (Sandler et al. 2018) as torchvision lays it out, without torchvision."""
    import torch
    from torch import nn

    class ConvBNReLU(nn.Sequential):
        def __init__(self, cin, cout, kernel=3, stride=1, groups=1):
            super().__init__(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            self.residual = stride == 1 and cin == cout
            layers = [ConvBNReLU(cin, hidden, kernel=1)] if expand != 1 else []
            layers += [ConvBNReLU(hidden, hidden, stride=stride, groups=hidden), nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.residual else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self, classes=1000):
            super().__init__()
            settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
            channels = 32
            features = [ConvBNReLU(3, channels, stride=2)]
            for expand, cout, repeat, stride in settings:
                for i in range(repeat):
                    features.append(InvertedResidual(channels, cout, stride if i == 0 else 1, expand))
                    channels = cout
            features.append(ConvBNReLU(channels, 1280, kernel=1))
            self.features = nn.Sequential(*features)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

        def forward(self, x):
            return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))

    torch.manual_seed(0)
    return MobileNetV2().eval()


def export_mobilenet_v2(path: Path) -> None:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        # dynamo=False: the TorchScript exporter, which needs no onnxscript
        torch.onnx.export(mobilenet_v2_module(), torch.randn(1, 3, 224, 224), str(path), dynamo=False, opset_version=17)


def torch_models(folder: Path) -> dict[str, Path]:
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not installed: no exported MobileNetV2")
        return {}
    target = folder / "mobilenet_v2.onnx"
    if not target.exists():
        subprocess.run([sys.executable, __file__, "--export-mobilenet-v2", str(target)], check=True)
    return {"mobilenet_v2": target}


# --- the counters -----------------------------------------------------------------------------


def onnx_tool_count(path: Path):
    import onnx_tool

    with contextlib.redirect_stdout(io.StringIO()):
        model = onnx_tool.Model(str(path))
        model.graph.shape_infer()
        model.graph.profile()
    return model.graph.macs


def torch_peers() -> dict:
    """fvcore, ptflops and thop on the MobileNetV2 module: those that are installed."""
    try:
        import torch
    except ImportError:
        return {}
    module, example = mobilenet_v2_module(), torch.randn(1, 3, 224, 224)
    peers = {}
    try:
        from fvcore.nn import FlopCountAnalysis

        def fvcore_count():
            analysis = FlopCountAnalysis(module, example)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            return analysis.total()

        peers["fvcore"] = fvcore_count
    except ImportError:
        pass
    try:
        from ptflops import get_model_complexity_info

        def ptflops_count():
            with contextlib.redirect_stdout(io.StringIO()):
                return get_model_complexity_info(module, (3, 224, 224), as_strings=False, print_per_layer_stat=False, verbose=False)[0]

        peers["ptflops"] = ptflops_count
    except ImportError:
        pass
    try:
        import copy

        import thop

        def thop_count():
            with contextlib.redirect_stdout(io.StringIO()):  # thop leaves its counters on the module: a fresh copy each time
                return thop.profile(copy.deepcopy(module), inputs=(example,), verbose=False)[0]

        peers["thop"] = thop_count
    except ImportError:
        pass
    return peers


# --- timing -----------------------------------------------------------------------------------


CLOCK = time.perf_counter  # --clock cpu: time.process_time, the CPU time of this process


class ChildTime(float):
    """Seconds a child process took, measured by the side itself."""


def alternate(sides: dict, rounds: int) -> dict[str, list[float]]:
    """Each side once to warm up, then `rounds` rounds with the order rotating: seconds per side
    (a side's own result when it returns a float: the whole-process sides time their child)."""
    names = list(sides)
    for name in names:
        sides[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        order = names[index % len(names):] + names[:index % len(names)]
        if index % 2:
            order.reverse()
        for name in order:
            start = CLOCK()
            result = sides[name]()
            times[name].append(float(result) if isinstance(result, ChildTime) else CLOCK() - start)
    return times


def ratio_range(numerator: list[float], denominator: list[float]) -> tuple[float, float, float]:
    """Median ratio, and the lowest and highest ratio of one round (the same round's two sides)."""
    per_round = [a / b for a, b in zip(numerator, denominator)]
    return statistics.median(numerator) / statistics.median(denominator), min(per_round), max(per_round)


def verdict(ratio: float, low: float, high: float, target: float) -> str:
    if high <= target:
        return "PASS"
    if low > target:
        return "FAIL"
    return "PASS (noisy)" if ratio <= target else "FAIL (noisy)"


def in_process(models: dict[str, Path], rounds: int) -> list[tuple[str, float, float, float]]:
    import flopbench
    from flopbench.model.core import openvino_core

    core = openvino_core()
    peers_of_module = torch_peers()
    print(f"\nIn process: median of {rounds} alternating rounds, milliseconds; ratio min..max over rounds")
    header = f"{'model':24}{'ops':>6}{'flopbench':>11}{'read_model':>12}{'onnx-tool':>11}   {'flopbench / read_model':26}{'flopbench / onnx-tool':24}"
    print(header)
    checks = []
    for name, path in models.items():
        sides = {"flopbench": lambda p=path: flopbench.count(p), "read_model": lambda p=path: core.read_model(str(p)),
                 "onnx-tool": lambda p=path: onnx_tool_count(p)}
        if name == "mobilenet_v2":
            sides.update(peers_of_module)
        times = alternate(sides, rounds)
        ops = len(flopbench.count(path).ops)
        median = {side: statistics.median(t) * 1e3 for side, t in times.items()}
        floor = ratio_range(times["flopbench"], times["read_model"])
        peer = ratio_range(times["flopbench"], times["onnx-tool"])
        print(f"{name:24}{ops:6d}{median['flopbench']:11.1f}{median['read_model']:12.1f}{median['onnx-tool']:11.1f}   "
              f"{floor[0]:5.2f} ({floor[1]:.2f}..{floor[2]:.2f}) {verdict(*floor, IN_PROCESS_TARGET):12}"
              f"{peer[0]:5.2f} ({peer[1]:.2f}..{peer[2]:.2f})")
        for side in peers_of_module if name == "mobilenet_v2" else ():
            print(f"{'':30}{side}: {median[side]:.1f} ms, flopbench / {side} = {median['flopbench'] / median[side]:.2f}")
        checks.append((name, *floor))
    return checks


def run_timed(command: list[str], env: dict) -> ChildTime:
    """The child's wall time, or with --clock cpu its CPU time (user + system, from wait4)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, command)
    return ChildTime(usage.ru_utime + usage.ru_stime if CLOCK is time.process_time else wall)


def peak_mb(module_argv: list[str], env: dict) -> float:
    proc = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *module_argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, env=env, cwd=REPO)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("PEAK_KB ")]
    return int(lines[-1].split()[1]) / 1024 if lines else float("nan")


def child_env(folder: Path) -> dict:
    """The children's environment: this checkout first on the path, and bytecode cached (in
    `folder`, not in the checkout) even where PYTHONDONTWRITEBYTECODE is set, as an installed
    package has it: else every flopbench process would compile its sources, and the peers,
    installed with their bytecode, would not."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    return env


def whole_processes(models: dict[str, Path], rounds: int, folder: Path) -> list[tuple[str, float, float, float]]:
    env = child_env(folder)
    print(f"\nWhole processes: median of {rounds} alternating rounds, seconds: `python -m flopbench flops MODEL` (its output "
          "to a pipe), a minimal onnx-tool script, and two floors: `import openvino; Core().read_model(MODEL)`, and the same "
          "with openvino imported as flopbench's CLI imports it (without its conversion API)")
    print(f"{'model':24}{'flopbench':>11}{'onnx-tool':>11}{'read_model':>12}{'lean read':>11}   {'flopbench / onnx-tool':30}"
          f"{'read_model / onnx-tool':>24}{'lean read / onnx-tool':>23}")
    checks = []
    for name, path in models.items():
        sides = {"flopbench": [sys.executable, "-m", "flopbench", "flops", str(path)],
                 "onnx-tool": [sys.executable, "-c", ONNX_TOOL_SCRIPT, str(path)],
                 "read_model": [sys.executable, "-c", FLOOR_SCRIPT, str(path)],
                 "lean read": [sys.executable, "-c", LEAN_FLOOR_SCRIPT, str(path)]}
        times = alternate({side: (lambda c=command: run_timed(c, env)) for side, command in sides.items()}, rounds)
        median = {side: statistics.median(t) for side, t in times.items()}
        ratio = ratio_range(times["flopbench"], times["onnx-tool"])
        print(f"{name:24}{median['flopbench']:11.3f}{median['onnx-tool']:11.3f}{median['read_model']:12.3f}{median['lean read']:11.3f}   "
              f"{ratio[0]:5.2f} ({ratio[1]:.2f}..{ratio[2]:.2f}) {verdict(*ratio, PROCESS_TARGET):14}"
              f"{median['read_model'] / median['onnx-tool']:>14.2f}{median['lean read'] / median['onnx-tool']:>23.2f}")
        checks.append((name, *ratio))
    return checks


def peaks(models: dict[str, Path], folder: Path) -> dict[str, float]:
    env = child_env(folder)
    found = {name: peak_mb(["flopbench", "flops", str(path)], env) for name, path in models.items()}
    floor = peak_mb(["openvino"], env)  # importing openvino as a module: its import alone
    print(f"\nPeak memory (VmHWM) of one `flopbench flops MODEL` process, MB (`import openvino` alone: {floor:.0f} MB)")
    for name, value in found.items():
        print(f"{name:24}{value:8.0f}  {'PASS' if value < PEAK_TARGET_MB else 'FAIL'}")
    return found


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--export-mobilenet-v2"]:  # internal: export in a child, so that this process needs no torch
        export_mobilenet_v2(Path(argv[1]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="in-process rounds per model (default 5)")
    parser.add_argument("--process-rounds", type=int, default=5, help="whole-process rounds per model (default 5; 0 skips them)")
    parser.add_argument("--models", default="", help="comma-separated parts of model names to keep (default: all)")
    parser.add_argument("--process-models", default=",".join(PROCESS_MODELS), help=f"models timed as whole processes (default {','.join(PROCESS_MODELS)})")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default), or CPU time: this process's for the in-process sides, each child's (user + system) "
                             "for whole processes; steadier than wall time on a machine others are using")
    parser.add_argument("--dir", type=Path, default=None, help="where the zoo and exported models are written (a temp dir by default)")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"clock: {'CPU time' if args.clock == 'cpu' else 'wall time'}")
    try:
        import onnx_tool  # noqa: F401
    except ImportError:
        print('onnx-tool is not installed: pip install ".[benchmark]"', file=sys.stderr)
        return 2
    folder = args.dir or Path(tempfile.mkdtemp(prefix="flopbench-peers-"))
    folder.mkdir(parents=True, exist_ok=True)
    models = {**light_models(), **zoo_models(folder), **torch_models(folder)}
    wanted = [w for w in args.models.split(",") if w]
    if wanted:
        models = {n: p for n, p in models.items() if any(w in n for w in wanted)}
    floor_checks = in_process(models, max(1, args.rounds))
    process_models = {n: p for n, p in models.items() if n in args.process_models.split(",")}
    process_checks = whole_processes(process_models, args.process_rounds, folder) if args.process_rounds > 0 and process_models else []
    peak = peaks(models, folder)

    print("\nTargets (issue 18):")
    for name, ratio, low, high in floor_checks:
        print(f"  {verdict(ratio, low, high, IN_PROCESS_TARGET):13} in process  {name:24} flopbench.count / read_model = {ratio:.2f} <= {IN_PROCESS_TARGET}")
    for name, ratio, low, high in process_checks:
        print(f"  {verdict(ratio, low, high, PROCESS_TARGET):13} process     {name:24} flopbench flops / onnx-tool = {ratio:.2f} <= {PROCESS_TARGET}")
    worst = max(peak.items(), key=lambda item: item[1]) if peak else None
    if worst:
        print(f"  {'PASS' if worst[1] < PEAK_TARGET_MB else 'FAIL':13} memory      highest peak {worst[1]:.0f} MB ({worst[0]}) < {PEAK_TARGET_MB:.0f} MB")
    print("  (the 553 MB VGG16: python benchmarks/count_speed.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
