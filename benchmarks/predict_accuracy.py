"""How well `flopbench predict` foretells the latency: predict, then measure, model by model.

The validation models are none of the calibration's one-layer models: the light models the `onnx`
package ships, the zoo's mobilenet_v1 and mobilenet_v2 at 224 and 160, std_cnn and sep_cnn, and a
MobileNetV2 exported from a torch module (when torch is installed). For each: the prediction (no
inference), then `bench`'s median latency with the same settings, in `--passes` passes (3; the
models take turns, so one model's passes are minutes apart and a phase of a virtual machine's
drifting speed slows one of them, not all: its latency is the median of its passes' medians), then
a profile for the per-layer error (each layer's time divided by how much slower profiling made the
run, as predict foretells the unprofiled time). Prints each model's predicted / measured ratio, the
share of models within ±10% and ±20%, and the per-layer median absolute error. Run it on a quiet
machine, after `flopbench predict --calibrate` for the same settings; say the load beside its figures.

    python benchmarks/predict_accuracy.py [--engine openvino|onnxruntime] [--precision f32|bf16] [-nthreads N] [-t SECONDS]
                                          [--passes N] [--only a,b] [--save FILE] [--measured FILE]
    python benchmarks/predict_accuracy.py --agreement FIRST.json SECOND.json

`--agreement` predicts nothing: it sets two `--save` files of the same models beside each other
(measured at different times) and prints how often two measurements of one model agree within ±10%
and ±20%: the ceiling of any prediction on this machine (see speed_drift.py).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import onnx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = ("resnet50", "densenet121", "inception_v1", "inception_v2", "shufflenet", "squeezenet", "bvlc_alexnet",
                "zfnet512", "vgg19")


def validation_models(folder: Path) -> list[tuple[str, Path]]:
    from flopbench.zoo import write_zoo_model

    models = [(name, LIGHT / f"light_{name}.onnx") for name in LIGHT_MODELS if (LIGHT / f"light_{name}.onnx").exists()]
    for name, resolution in (("mobilenet_v1", 224), ("mobilenet_v1", 160), ("mobilenet_v2", 224), ("mobilenet_v2", 160)):
        target = folder / f"{name}_{resolution}"
        files = write_zoo_model(name, target, fmt="onnx", resolution=resolution)
        models.append((f"{name} {resolution}", files.onnx))
    for name in ("std_cnn", "sep_cnn"):
        models.append((name, write_zoo_model(name, folder / name, fmt="onnx").onnx))
    exported = torch_mobilenet_v2(folder)
    if exported:
        models.append(("MobileNetV2 (torch export)", exported))
    return models


def torch_mobilenet_v2(folder: Path) -> Path | None:
    """torchvision's MobileNetV2 exported from its module; without torchvision, the same layout
    written as a module by count_vs_peers.py."""
    try:
        import torch
    except ImportError:
        return None
    path = folder / "torch_mobilenet_v2.onnx"
    try:
        import torchvision
    except ImportError:
        sys.path.insert(0, str(Path(__file__).parent))
        from count_vs_peers import export_mobilenet_v2

        export_mobilenet_v2(path)
        return path
    model = torchvision.models.mobilenet_v2(weights=None).eval()
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), str(path), dynamo=False)
    return path


def bench_median(path: Path, engine: str, precision: str | None, nthreads: int | None, seconds: float) -> tuple[float, float]:
    """bench's median and fastest latency, µs."""
    from flopbench.measure.bench import bench

    latency = bench(path, [engine], precision=precision, nthreads=nthreads, seconds=seconds).results[0].latency
    return latency.median_ns / 1e3, latency.min_ns / 1e3


def profiled_layers(path: Path, engine: str, precision: str | None, nthreads: int | None, profile_niter: int) -> dict[str, float]:
    """Each layer's profiled time as it would run unprofiled: its median inference where the engine
    times each apart (ONNX Runtime), divided by how much slower profiling made the run (where the
    sign test tells it from noise): predict foretells the unprofiled time."""
    from flopbench.profiling.profile import profile, profiling_slowdown

    profiled = profile(path, engine=engine, precision=precision, nthreads=nthreads, iterations=profile_niter)
    slowdown = profiling_slowdown(profiled.profiled_latency, profiled.unprofiled_latency, profiled.overhead)
    return {row.name: (row.median_us if row.median_us else row.time_us) / slowdown for row in profiled.layers if row.time_us > 0}


def agreement(first_file: Path, second_file: Path) -> int:
    first, second = (json.loads(Path(file).read_text()) for file in (first_file, second_file))
    ratios = []
    for label in first:
        if label in second:
            ratio = second[label]["median_us"] / first[label]["median_us"]
            ratios.append(ratio)
            print(f"{label:28} median {first[label]['median_us']:11,.1f} µs then {second[label]['median_us']:11,.1f} µs  ratio {ratio:5.2f}")
    if not ratios:
        print("no model is in both files", file=sys.stderr)
        return 2
    within = lambda share: 100 * sum(abs(r - 1) <= share for r in ratios) / len(ratios)  # noqa: E731
    print(f"\n{len(ratios)} models measured twice: the second median within ±10% of the first for {within(0.10):.0f}%, "
          f"within ±20% for {within(0.20):.0f}%; ratios {min(ratios):.2f}–{max(ratios):.2f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="openvino")
    parser.add_argument("--precision")
    parser.add_argument("-nthreads", type=int, help="threads, as bench's -nthreads (calibrate with the same)")
    parser.add_argument("-t", "--seconds", type=float, default=3.0, help="bench time per model and pass (default 3 s)")
    parser.add_argument("--passes", type=int, default=3,
                        help="bench each model this many times, the models taking turns; its latency is the median of the passes' medians")
    parser.add_argument("--profile-niter", type=int, default=50)
    parser.add_argument("--only", help="comma-separated labels to keep (e.g. sep_cnn,squeezenet): a quick check of the script")
    parser.add_argument("--save", type=Path, help="write what was measured (latencies, per-layer times) to this JSON file")
    parser.add_argument("--measured", type=Path,
                        help="reuse the measurements a --save wrote: predict again (after a new calibration) without measuring")
    parser.add_argument("--agreement", type=Path, nargs=2, metavar="FILE",
                        help="two --save files: how closely two measurements of the same models agree (predicts nothing)")
    args = parser.parse_args()
    if args.agreement:
        return agreement(*args.agreement)

    from flopbench.errors import FlopbenchError
    from flopbench.profiling.calibration import cached_calibration
    from flopbench.profiling.predict import predict

    try:
        cached_calibration(args.engine, precision=args.precision, nthreads=args.nthreads)
    except FlopbenchError as exc:
        print(f"predict_accuracy: {exc}", file=sys.stderr)
        return 2
    print(f"load average before: {os.getloadavg()}", flush=True)
    known = json.loads(args.measured.read_text()) if args.measured else {}
    saved = dict(known)
    ratios, layer_errors, inside_passes = [], [], []
    with tempfile.TemporaryDirectory(prefix="flopbench-accuracy-") as temp:
        keep = set(args.only.split(",")) if args.only else None
        chosen, predictions = [], {}
        for label, path in validation_models(Path(temp)):
            if keep is not None and label not in keep or args.measured and label not in known:
                continue
            try:
                predictions[label] = predict(path, engine=args.engine, precision=args.precision, nthreads=args.nthreads)
            except FlopbenchError as exc:
                print(f"{label:28} skipped: {exc}", flush=True)
                continue
            chosen.append((label, path))
        # the models take turns, pass after pass: each model's passes are minutes apart, so a phase of
        # the host's drifting speed slows one pass of a model, not all of them
        medians: dict[str, list[float]] = {}
        fastest: dict[str, float] = {}
        for round_ in range(0 if args.measured else args.passes):
            for label, path in list(chosen):
                try:
                    median, least = bench_median(path, args.engine, args.precision, args.nthreads, args.seconds)
                except FlopbenchError as exc:
                    print(f"{label:28} skipped: {exc}", flush=True)
                    chosen.remove((label, path))
                    continue
                medians.setdefault(label, []).append(median)
                fastest[label] = min(least, fastest.get(label, least))
            print(f"pass {round_ + 1} of {args.passes} measured", file=sys.stderr, flush=True)
        for label, path in chosen:
            predicted = predictions[label]
            measured = known.get(label) or {
                "median_us": statistics.median(medians[label]), "fastest_us": fastest[label], "pass_medians_us": medians[label],
                "layers_us": profiled_layers(path, args.engine, args.precision, args.nthreads, args.profile_niter)}
            saved[label] = measured
            ratio = predicted.predicted_latency_us / measured["median_us"]
            ratios.append(ratio)
            by_name = {layer.name: layer.predicted_time_us for layer in predicted.layers}
            errors = [abs(by_name[name] - spent) / spent for name, spent in measured["layers_us"].items() if name in by_name]
            layer_errors.extend(errors)
            passes = measured.get("pass_medians_us", [])
            if len(passes) > 1:
                inside_passes.append(min(passes) <= predicted.predicted_latency_us <= max(passes))
            print(f"{label:28} predicted {predicted.predicted_latency_us:11,.1f} µs  measured median {measured['median_us']:11,.1f} µs "
                  f"(fastest {measured['fastest_us']:11,.1f}; passes {'/'.join(f'{m:,.0f}' for m in passes)})  ratio {ratio:5.2f}  "
                  f"per-layer median |error| {100 * statistics.median(errors) if errors else float('nan'):5.1f}%", flush=True)
    if args.save:
        args.save.write_text(json.dumps(saved, indent=1) + "\n")
    if not ratios:
        return 0
    within = lambda share: 100 * sum(abs(r - 1) <= share for r in ratios) / len(ratios)  # noqa: E731
    print(f"\n{args.engine} {args.precision or 'default precision'}: {len(ratios)} models; within ±10%: {within(0.10):.0f}%, "
          f"within ±20%: {within(0.20):.0f}%; worst ratio {max(ratios, key=lambda r: max(r, 1 / r)):.2f}; "
          f"per-layer median |error| {100 * statistics.median(layer_errors):.1f}% over {len(layer_errors)} layers")
    reported = [saved[label].get("pass_medians_us", []) for label, _ in chosen]
    pairs = [later / earlier for passes in reported for i, earlier in enumerate(passes) for later in passes[i + 1:]]
    if pairs:
        # the ceiling of any prediction made once: how closely this run's own measurements of one model agree
        print(f"two passes of one model agree within ±10% for {100 * sum(abs(r - 1) <= 0.10 for r in pairs) / len(pairs):.0f}% "
              f"of {len(pairs)} pairs, within ±20% for {100 * sum(abs(r - 1) <= 0.20 for r in pairs) / len(pairs):.0f}%; "
              f"the prediction lies between a model's slowest and fastest pass for {sum(inside_passes)} of {len(inside_passes)} models")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
