"""The bad-input corpus: every way a user can hand flopbench a broken file or a wrong option.

Each case is checked twice, with the exact error class and a message that names the problem:

* through the Python API (`flopbench.load` / `count`, `run.run`, `measure.bench`, `inputs.*`,
  `atomic.*`): the `FlopbenchError` subclass, a one-line message, and a fix;
* through the real command line, `flopbench.cli.main.main([...])` in this process (each true subprocess
  costs a second of OpenVINO import): exit code 2, exactly one stderr line `flopbench: error: ...`,
  no traceback, and nothing left in the output folder, neither the target nor a temporary file.

A representative subset also runs as real subprocesses (`python -m flopbench ...`). Warning cases
(a converted dtype, NaN / Inf) exit 0 with a `flopbench: warning:` line. The interrupt exit code
(130) is covered by tests/test_bench.py.
"""
from __future__ import annotations

import errno
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import flopbench
from flopbench.results import writing as atomic
from flopbench.cli.main import main
from flopbench.cli.arguments import refuse_measuring_flags
from flopbench.reporting.report import split_sources
from flopbench.measure.engines import EngineConfig
from flopbench.errors import (EngineError, FleetError, FlopbenchError, InputDataError, ModelFileError, OptionError, OutputError,
                              ResultFileError, ShapeError)
from flopbench.fleet.bench import fleet_bench
from flopbench.fleet.compare import side_by_side
from flopbench.fleet.profile import fleet_profile
from flopbench.fleet.points import prepare_bench_points, read_points_file
from flopbench.fleet.sweep import fleet_sweep
from flopbench.profiling.predict import predict
from flopbench.measure.inputs import prepare_inputs, read_npy
from flopbench.measure.bench import bench
from flopbench.measure.policy import RunPolicy
from flopbench.render.registry import check_format
from flopbench.measure.run import run
from flopbench.comparing.compare import compare
from flopbench.study.sweep import SweepOptions, generate_points, load_points
from flopbench.converting.convert import convert
from flopbench.counting.memory import parse_size
from flopbench.measure.footprint import measure_footprint
from flopbench.quantize import quantize
from flopbench.zoo import write_zoo_model
from flopbench.errors import ProfilingError
from flopbench.profiling.roofline import roofline
from flopbench.profiling.profile import profile


def profile_command(argv):
    """The CLI's own checks, without its error handling: the exception itself."""
    from flopbench.cli.main import build_parser

    args = build_parser().parse_args(argv)
    return args.handler(args)

REPO = Path(__file__).resolve().parents[1]
QUICK = RunPolicy(warmup_iterations=0, min_duration_s=0.01, min_iterations=1)


# --- the corpus files ---------------------------------------------------------------------------


class _OpenOnUnpickle:
    """Unpickling this calls open(marker, "w"): the marker file appears iff the pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _ir(folder: Path, name: str, xml: str, bin_bytes: bytes | None) -> Path:
    target = folder / name
    target.mkdir()
    (target / "m.xml").write_text(xml)
    if bin_bytes is not None:
        (target / "m.bin").write_bytes(bin_bytes)
    return target / "m.xml"


def _onnx_model(nodes, inputs, outputs, initializers=(), domains=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8)


def _ir_cycle(xml: str) -> str:
    """sep_cnn's IR with the first convolution fed from a later layer: a cycle."""
    relu = re.search(r'<layer id="(\d+)" name="conv1/relu"[^>]*>.*?<output>\s*<port id="(\d+)"', xml, re.S)
    first = '<edge from-layer="0" from-port="0" to-layer="2" to-port="0" />'
    assert relu and first in xml
    return xml.replace(first, f'<edge from-layer="{relu.group(1)}" from-port="{relu.group(2)}" to-layer="2" to-port="0" />')


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> SimpleNamespace:
    d = tmp_path_factory.mktemp("corpus")
    zoo = d / "zoo"
    files = write_zoo_model("sep_cnn", zoo)
    xml = files.xml.read_text()
    weights = files.bin.read_bytes()
    onnx_bytes = files.onnx.read_bytes()
    image = np.load(files.image)
    c = SimpleNamespace(d=d, x=files.xml, o=files.onnx, image=files.image)

    c.folder = d / "a_folder"
    c.folder.mkdir()
    c.empty_xml = d / "empty.xml"
    c.empty_xml.write_bytes(b"")
    c.empty_onnx = d / "empty.onnx"
    c.empty_onnx.write_bytes(b"")
    c.regular = d / "regular.txt"
    c.regular.write_text("a file, not a folder\n")
    c.not_a_result = d / "package.json"
    c.not_a_result.write_text('{"name": "something else"}\n')
    c.points_unknown_field = d / "points_unknown_field.json"
    c.points_unknown_field.write_text('[{"model": "sep_cnn.onnx", "engines": ["openvino"], "speed": "max"}]')
    c.points_repeated_key = d / "points_repeated_key.json"  # two different points under one key
    c.points_repeated_key.write_text('[{"model": "zoo/sep_cnn.onnx", "seconds": 0.1, "key": "k"}, '
                                     '{"model": "zoo/sep_cnn.onnx", "seconds": 0.2, "key": "k"}]')
    c.points_repeated = d / "points_repeated.json"  # one point twice: one content, one key
    c.points_repeated.write_text('[{"model": "zoo/sep_cnn.onnx", "seconds": 0.1}, {"model": "zoo/sep_cnn.onnx", "seconds": 0.1}]')
    # result and points files that are no regular file, or JSON that is hostile
    c.fifo = d / "fifo.json"
    os.mkfifo(c.fifo)
    c.zero = d / "zero.json"
    c.zero.symlink_to("/dev/zero")
    c.deep = d / "deep.json"
    c.deep.write_text("[" * 100_000 + "]" * 100_000)
    c.nan_result = d / "nan_result.json"
    c.nan_result.write_text('{"schema": "flopbench/bench/1", "complete": true, "metadata": {}, "results": [{"median": NaN}]}')
    c.huge_number = d / "huge_number.json"
    c.huge_number.write_text('[{"model": "zoo/sep_cnn.onnx", "seconds": 1e400}]')
    c.points_bad_seed = d / "points_bad_seed.json"
    c.points_bad_seed.write_text('[{"in_channels": 8, "out_channels": 8, "kernel": 3, "size": 8, "stride": 1, "engine": "openvino", '
                                 '"precision": "f32", "seconds": 0.05, "repeats": 1, "profile_iterations": 2, "seed": "abc"}]')
    c.points_ok = d / "points_ok.json"
    c.points_ok.write_text('[{"model": "zoo/sep_cnn.onnx", "seconds": 0.1}]')
    from flopbench.results.metadata import result_metadata

    # fleet files as a driver writes them before any point ends: valid, and empty
    driver = {**result_metadata(), "address": "local"}
    for attr, command in (("fleet_empty", "bench"), ("fleet_sweep", "sweep")):
        setattr(c, attr, d / f"{attr}.json")
        getattr(c, attr).write_text(json.dumps({"schema": "flopbench/fleet/1", "command": command, "complete": True, "interrupted": False,
                                                "metadata": driver, "nodes": {}, "points": []}))
    c.not_a_fleet_result = d / "not_a_fleet_result.json"
    c.not_a_fleet_result.write_text('{"points": []}')
    c.sweep_results = d / "sweep" / "results.json"  # a sweep that measured nothing yet
    c.sweep_results.parent.mkdir()
    c.sweep_results.write_text('{"schema": "flopbench/study/1", "study": "sepconv", "complete": false, "metadata": {}, '
                               '"points": 1, "records": []}')

    # result files that parse, and that their schema or the sanity bounds refuse: a real bench and
    # a real count, each with one field changed
    measured = bench(files.xml, policy=QUICK).to_dict(save_latencies=True)
    counted = flopbench.count(files.xml).to_dict()

    def tampered(name: str, document: dict, change: Callable[[dict], None]) -> Path:
        document = json.loads(json.dumps(document))
        change(document)
        path = d / name
        path.write_text(json.dumps(document))
        return path

    def latencies(values):
        return lambda doc: doc["results"][0]["latencies_ns"].update(engine=values)

    c.negative_latency = tampered("negative_latency.json", measured, latencies([-1, 0, 1e30]))
    c.latency_too_large = tampered("latency_too_large.json", measured, latencies([1, 2, 1e30]))
    c.digits_400 = tampered("digits_400.json", measured, lambda doc: doc["results"][0].update(iterations=10 ** 400))
    c.negative_median = tampered("negative_median.json", measured, lambda doc: doc["results"][0]["engine_latency"].update(median_ns=-5))
    c.latency_not_a_number = tampered("latency_not_a_number.json", measured, latencies([1, "2", 3]))
    c.negative_macs = tampered("negative_macs.json", counted, lambda doc: doc["layers"][1].update(macs=-3))
    c.layer_without_name = tampered("layer_without_name.json", counted, lambda doc: doc["layers"][0].pop("name"))

    # cut at the end of a line halfway: a file cut short, whatever its names' lengths (not mid-token)
    c.ir_truncated = _ir(d, "ir_truncated", xml[: xml.rfind("\n", 0, len(xml) // 2) + 1], weights)
    c.ir_not_xml = _ir(d, "ir_not_xml", "this is not XML at all\n", weights)
    c.ir_wrong_root = _ir(d, "ir_wrong_root", "<html><body>hello</body></html>", weights)
    c.ir_op_version = _ir(d, "ir_op_version", xml.replace('type="GroupConvolution" version="opset1"',
                                                          'type="GroupConvolution" version="opset999"'), weights)
    c.ir_op_type = _ir(d, "ir_op_type", xml.replace('type="GroupConvolution" version="opset1"', 'type="FooConv" version="opset1"'), weights)
    c.ir_version = _ir(d, "ir_version", xml.replace('<net name="sep_cnn" version="11">', '<net name="sep_cnn" version="99">'), weights)
    c.ir_entities = _ir(d, "ir_entities", '<?xml version="1.0"?><!DOCTYPE net [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                                          '<net name="x" version="11"><layers>&b;</layers></net>', weights)
    c.ir_no_layers = _ir(d, "ir_no_layers", '<?xml version="1.0"?>\n<net name="x" version="11">\n</net>\n', weights)
    c.ir_cycle = _ir(d, "ir_cycle", _ir_cycle(xml), weights)
    c.ir_no_bin = _ir(d, "ir_no_bin", xml, None)
    c.ir_short_bin = _ir(d, "ir_short_bin", xml, weights[:1000])

    c.onnx_garbage = d / "garbage.onnx"
    c.onnx_garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    c.onnx_truncated = d / "truncated.onnx"
    c.onnx_truncated.write_bytes(onnx_bytes[:5000])
    x4 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])
    y4 = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 28, 28])
    c.onnx_domain = d / "domain.onnx"
    onnx.save(_onnx_model([helper.make_node("Frob", ["x"], ["y"], domain="com.example")], [x4], [y4], domains=["com.example"]),
              str(c.onnx_domain))
    c.onnx_op = d / "unknown_op.onnx"
    onnx.save(_onnx_model([helper.make_node("Frobnicate", ["x"], ["y"])], [x4], [y4]), str(c.onnx_op))
    c.onnx_cycle = d / "cycle.onnx"
    onnx.save(_onnx_model([helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
                           helper.make_node("Identity", ["b"], ["y"])], [x4], [y4]), str(c.onnx_cycle))
    ext = d / "external"
    ext.mkdir()
    c.onnx_external = ext / "m.onnx"
    onnx.save(onnx.load(str(files.onnx)), str(c.onnx_external), save_as_external_data=True, all_tensors_to_one_file=True,
              location="m.weights", size_threshold=0)
    (ext / "m.weights").unlink()
    escape = d / "escape"
    escape.mkdir()
    c.onnx_escape = escape / "m.onnx"
    small = helper.make_tensor("w", TensorProto.FLOAT, [1], np.array([2.0], np.float32).tobytes(), raw=True)
    model = _onnx_model([helper.make_node("Mul", ["x", "w"], ["y"])], [x4], [y4], initializers=[small])
    onnx.save(model, str(c.onnx_escape), save_as_external_data=True, location="w.bin", size_threshold=0)
    model = onnx.load(str(c.onnx_escape), load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../../outside.bin"
    onnx.save(model, str(c.onnx_escape))
    # external data that is a symlink out of the model's folder: to a private file, to /etc/passwd,
    # and through a symlinked subfolder; the reader must refuse each before reading a byte of it
    c.private = d / "private.dat"
    c.private.write_bytes(b"a secret that must never leave this machine\n" * 64)
    c.private.chmod(0o600)
    for attr, link, location in (("onnx_link_private", c.private, "w.bin"), ("onnx_link_passwd", Path("/etc/passwd"), "w.bin"),
                                 ("onnx_link_folder", d, "sub/private.dat")):
        folder = d / attr
        folder.mkdir()
        onnx.save(_onnx_model([helper.make_node("Mul", ["x", "w"], ["y"])], [x4], [y4], initializers=[small]), str(folder / "m.onnx"),
                  save_as_external_data=True, location="w.bin", size_threshold=0)
        (folder / "w.bin").unlink()
        if "/" in location:
            model = onnx.load(str(folder / "m.onnx"), load_external_data=False)
            for entry in model.graph.initializer[0].external_data:
                if entry.key == "location":
                    entry.value = location
            onnx.save(model, str(folder / "m.onnx"))
        (folder / location.split("/")[0]).symlink_to(link)
        setattr(c, attr, folder / "m.onnx")
    c.onnx_hugeinit = d / "hugeinit.onnx"  # an initializer declaring 4×10¹² elements, holding 16 bytes
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2_000_000, 2_000_000], raw_data=bytes(16))  # make_tensor checks
    wide_in = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2_000_000])
    wide_out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2_000_000])
    onnx.save(_onnx_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [wide_in], [wide_out], initializers=[huge]),
              str(c.onnx_hugeinit))
    c.onnx_uncounted = d / "uncounted.onnx"  # one op with no formula: nothing for a profile to time
    flags_in = helper.make_tensor_value_info("x", TensorProto.BOOL, [1, 4])
    flags_out = helper.make_tensor_value_info("y", TensorProto.BOOL, [1, 4])
    onnx.save(_onnx_model([helper.make_node("Not", ["x"], ["y"])], [flags_in], [flags_out]), str(c.onnx_uncounted))
    c.onnx_dynamic = d / "dynamic.onnx"
    dyn_in = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "H", "W"])
    dyn_out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, "H", "W"])
    onnx.save(_onnx_model([helper.make_node("Relu", ["x"], ["y"])], [dyn_in], [dyn_out]), str(c.onnx_dynamic))

    # .npy inputs: the pickles carry a payload that would create a marker file if ever unpickled
    c.marker = d / "PICKLE_WAS_EXECUTED"
    c.npy_object = d / "object_array.npy"
    np.save(c.npy_object, np.array([_OpenOnUnpickle(c.marker)], dtype=object), allow_pickle=True)
    c.npy_raw_pickle = d / "raw_pickle.npy"
    c.npy_raw_pickle.write_bytes(pickle.dumps(_OpenOnUnpickle(c.marker), protocol=4))
    c.npy_small = d / "small.npy"
    np.save(c.npy_small, np.zeros((3, 3), np.float32))
    c.npy_garbage = d / "garbage.npy"
    c.npy_garbage.write_bytes(b"these bytes are no numpy array\n")
    c.npy_truncated = d / "truncated.npy"
    c.npy_truncated.write_bytes(files.image.read_bytes()[:1000])
    c.npy_strings = d / "strings.npy"
    np.save(c.npy_strings, np.array(["a", "b"]))
    c.npz = d / "archive.npz"
    np.savez(c.npz, image=image)
    c.npy_f64 = d / "float64.npy"
    np.save(c.npy_f64, image.astype(np.float64))
    c.npy_i64 = d / "int64.npy"
    np.save(c.npy_i64, (image * 255).astype(np.int64))
    nan = image.copy()
    nan.flat[0] = np.nan
    c.npy_nan = d / "nan.npy"
    np.save(c.npy_nan, nan)
    inf = image.copy()
    inf.flat[[1, 2]] = [np.inf, -np.inf]
    c.npy_inf = d / "inf.npy"
    np.save(c.npy_inf, inf)

    # an INT8 model (activations through a FakeQuantize, int8 weights): quantize must refuse it
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, 1, 28, 28], np.float32, name="input")
    lo, hi = ops.constant(np.float32(-1)), ops.constant(np.float32(1))
    quantized = ops.fake_quantize(x, lo, hi, lo, hi, 256)
    weights = ops.multiply(ops.convert(ops.constant(np.ones((4, 1, 3, 3), np.int8)), ov.Type.f32), ops.constant(np.float32(0.1)))
    conv = ops.convolution(quantized, weights, [1, 1], [0, 0], [0, 0], [1, 1])
    c.quantized = d / "int8.xml"
    ov.save_model(ov.Model([ops.result(conv)], [x]), c.quantized, compress_to_fp16=False)
    # calibration samples, the second of the wrong shape
    c.calibration = d / "calibration"
    c.calibration.mkdir()
    for name, shape in (("a.npy", (1, 1, 28, 28)), ("b_bad.npy", (1, 1, 27, 27)), ("c_bad.npy", (3, 3))):
        np.save(c.calibration / name, np.zeros(shape, np.float32))
    # values far too large to print (#25 item 14): a message shows their start and keeps its point
    million = list(range(10**6))
    bench_point = {"model": "zoo/sep_cnn.onnx", "engines": ["openvino"], "seconds": 0.1}
    study_point = {"in_channels": 8, "out_channels": 8, "kernel": 3, "size": 8, "stride": 1, "engine": "openvino", "precision": "f32",
                   "seconds": 0.05, "repeats": 1, "profile_iterations": 2}
    for name, point in (("points_seed_million", {**bench_point, "seed": million}),
                        ("points_engines_numbers", {**bench_point, "engines": million}),
                        ("points_field_megabyte", {**bench_point, "s" * (1 << 20): 1}),
                        ("points_model_megabyte", {**bench_point, "model": "m" * (1 << 20) + ".onnx"}),
                        ("study_channels_million", {**study_point, "in_channels": million}),
                        ("study_engine_megabyte", {**study_point, "engine": "e" * (1 << 20)}),
                        ("study_seed_megabyte", {**study_point, "seed": "9" * (1 << 20)}),
                        ("study_point_megabyte_without_fields", {"key": "k" * (1 << 20)})):
        setattr(c, name, d / f"{name}.json")
        getattr(c, name).write_text(json.dumps([point]))
    # a model whose one input (and its op) has a name of a megabyte
    long_input = "n" * (1 << 20)
    graph = helper.make_graph([helper.make_node("Relu", [long_input], ["y"], name="L" * (1 << 20))], "g",
                              [helper.make_tensor_value_info(long_input, TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    c.onnx_megabyte_name = d / "megabyte_name.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), c.onnx_megabyte_name)
    c.shape_100k_dims = "input:" + "x".join(["1"] * 10**5)
    return c


# --- the cases ----------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    cli: list[str]  # {name} is a corpus path; {out} the case's output folder
    api: Callable[[SimpleNamespace], Any]
    error: type[FlopbenchError]
    needle: str  # in both the exception's message and the CLI's line


def _load(path_attr: str, **kw):
    return lambda c: flopbench.load(getattr(c, path_attr), **kw)


def _count(path_attr: str, **kw):
    return lambda c: flopbench.count(getattr(c, path_attr), **kw)


def _inputs(*names):
    def call(c):
        loaded = flopbench.load(c.x)
        return prepare_inputs(loaded.inputs, [str(getattr(c, n)) if hasattr(c, n) else n.format(**vars(c)) for n in names])
    return call


CASES = [
    # model files
    Case("missing_path", ["flops", "{d}/missing.xml"], lambda c: flopbench.load(c.d / "missing.xml"),
         ModelFileError, "missing.xml does not exist"),
    Case("directory", ["flops", "{folder}"], _load("folder"), ModelFileError, "is a folder, not a model file"),
    Case("empty_xml", ["flops", "{empty_xml}"], _load("empty_xml"), ModelFileError, "empty.xml is empty"),
    Case("empty_onnx", ["flops", "{empty_onnx}"], _count("empty_onnx"), ModelFileError, "empty.onnx is empty"),
    Case("not_a_regular_file", ["flops", "/dev/null"], lambda c: flopbench.load("/dev/null"), ModelFileError,
         "/dev/null is not a regular file"),
    Case("model_is_npy", ["flops", "{image}"], _load("image"), ModelFileError, "image.npy is an input array, not a model"),
    Case("ir_truncated", ["flops", "{ir_truncated}"], _load("ir_truncated"), ModelFileError, "is not valid XML (no element found"),
    Case("ir_not_xml", ["flops", "{ir_not_xml}"], _count("ir_not_xml"), ModelFileError, "is not valid XML (syntax error"),
    Case("ir_wrong_root", ["flops", "{ir_wrong_root}"], _load("ir_wrong_root"), ModelFileError,
         "is not an OpenVINO IR (root element <html>, expected <net>)"),
    Case("ir_unknown_op_version", ["flops", "{ir_op_version}"], _load("ir_op_version"), ModelFileError,
         "opset999"),  # OpenVINO's words around the name change between releases
    Case("ir_unknown_op_type", ["flops", "{ir_op_type}"], _load("ir_op_type"), ModelFileError,
         "FooConv"),
    Case("ir_unknown_ir_version", ["flops", "{ir_version}"], _load("ir_version"), ModelFileError,
         "is an IR of version 99; this OpenVINO reads versions 10 and 11"),
    Case("ir_entities", ["flops", "{ir_entities}"], _load("ir_entities"), ModelFileError, "declares a DTD or entities"),
    Case("ir_no_layers", ["flops", "{ir_no_layers}"], _load("ir_no_layers"), ModelFileError, "is an IR without layers"),
    Case("ir_cycle", ["flops", "{ir_cycle}"], _load("ir_cycle"), ModelFileError, "its graph has a cycle through layer id"),
    Case("ir_without_bin", ["flops", "{ir_no_bin}"], _load("ir_no_bin"), ModelFileError, "has no weights file m.bin beside it"),
    Case("ir_bin_too_short", ["flops", "{ir_short_bin}"], _load("ir_short_bin"), ModelFileError,
         "m.bin are truncated: 1000 bytes, the .xml needs 1480944"),
    Case("onnx_garbage", ["flops", "{onnx_garbage}"], _load("onnx_garbage"), ModelFileError, "garbage.onnx is not a valid ONNX file"),
    Case("onnx_truncated", ["flops", "{onnx_truncated}"], _load("onnx_truncated"), ModelFileError,
         "truncated.onnx is not a valid ONNX file (truncated"),
    Case("onnx_unknown_domain", ["flops", "{onnx_domain}"], _load("onnx_domain"), ModelFileError,
         "com.example.Frob"),
    Case("onnx_unknown_op", ["flops", "{onnx_op}"], _count("onnx_op"), ModelFileError,
         "Frobnicate"),
    Case("onnx_cycle", ["flops", "{onnx_cycle}"], _load("onnx_cycle"), ModelFileError, "is not a valid ONNX graph: it has a cycle"),
    Case("onnx_external_data_missing", ["flops", "{onnx_external}"], _load("onnx_external"), ModelFileError,
         "ONNX external data file m.weights is missing beside m.onnx"),
    Case("onnx_external_data_outside", ["flops", "{onnx_escape}"], _load("onnx_escape"), ModelFileError,
         "invalid external data location '../../outside.bin'"),
    Case("onnx_external_data_symlink_to_private_file", ["flops", "{onnx_link_private}"], _load("onnx_link_private"), ModelFileError,
         "external data file w.bin resolves outside the model's folder"),
    Case("onnx_external_data_symlink_to_etc_passwd", ["flops", "{onnx_link_passwd}"], _count("onnx_link_passwd"), ModelFileError,
         "external data file w.bin resolves outside the model's folder"),
    Case("onnx_external_data_symlinked_folder", ["flops", "{onnx_link_folder}"], _load("onnx_link_folder"), ModelFileError,
         "external data file sub/private.dat resolves outside the model's folder"),
    Case("bench_external_data_symlink", ["bench", "{onnx_link_private}", "--engine", "onnxruntime", "-t", "0.01"],
         lambda c: bench(c.onnx_link_private, engines=("onnxruntime",), policy=QUICK), ModelFileError,
         "external data file w.bin resolves outside the model's folder"),
    Case("onnx_initializer_larger_than_its_data", ["flops", "{onnx_hugeinit}"], _count("onnx_hugeinit"), ModelFileError,
         "hugeinit.onnx: tensor 'w' declares 4,000,000,000,000 elements (2000000x2000000), more than the"),
    Case("bench_initializer_larger_than_its_data", ["bench", "{onnx_hugeinit}", "--engine", "onnxruntime", "-t", "0.01"],
         lambda c: bench(c.onnx_hugeinit, engines=("onnxruntime",), policy=QUICK), ModelFileError,
         "tensor 'w' declares 4,000,000,000,000 elements"),
    # shapes
    Case("dynamic_spatial_no_shape", ["flops", "{onnx_dynamic}"], _load("onnx_dynamic"), ShapeError,
         "input 'x' has dynamic dimensions: [?,1,?,?]"),
    Case("dynamic_spatial_bench", ["bench", "{onnx_dynamic}", "-t", "0.01"], lambda c: bench(c.onnx_dynamic, policy=QUICK),
         ShapeError, "input 'x' has dynamic dimensions"),
    Case("shape_names_missing_input", ["flops", "{x}", "--shape", "nope:1x1x28x28"], _load("x", shape="nope:1x1x28x28"), ShapeError,
         "--shape names input 'nope', which the model does not have"),
    Case("shape_malformed", ["flops", "{x}", "--shape", "input:1xAx28"], _load("x", shape="input:1xAx28"), ShapeError,
         "malformed --shape 'input:1xAx28'"),
    Case("shape_negative", ["flops", "{x}", "--shape", "input:1x-1x28x28"], _load("x", shape="input:1x-1x28x28"), ShapeError,
         "has a negative dimension -1"),
    Case("shape_zero", ["flops", "{x}", "--shape", "input:0x1x28x28"], _load("x", shape="input:0x1x28x28"), ShapeError,
         "has a dimension of 0"),
    Case("shape_wrong_rank", ["flops", "{x}", "--shape", "input:1x28x28"], _load("x", shape="input:1x28x28"), ShapeError,
         "gives input 'input' 3 dimensions, but it has 4"),
    Case("shape_huge", ["flops", "{x}", "--shape", "input:1x1x99999999999x28"], _load("x", shape="input:1x1x99999999999x28"),
         ShapeError, "has a dimension of 99999999999"),
    Case("shape_does_not_fit", ["flops", "{x}", "--shape", "input:1x1x2x2"], _load("x", shape="input:1x1x2x2"), ShapeError,
         "the model cannot take the shapes input:1x1x2x2"),
    Case("batch_zero", ["flops", "{x}", "-b", "0"], _load("x", batch=0), ShapeError, "batch size 0 is not positive"),
    # input arrays
    Case("npy_pickle_object_array", ["run", "{x}", "-i", "{npy_object}", "-niter", "1"], lambda c: read_npy(c.npy_object),
         InputDataError, "object_array.npy holds Python objects (a pickle), which flopbench never loads"),
    Case("npy_raw_pickle", ["run", "{x}", "-i", "{npy_raw_pickle}", "-niter", "1"], _inputs("npy_raw_pickle"),
         InputDataError, "raw_pickle.npy holds Python objects (a pickle)"),
    Case("npy_wrong_size", ["run", "{x}", "-i", "{npy_small}", "-niter", "1"], _inputs("npy_small"), InputDataError,
         "small.npy has shape 3x3 (9 elements), which fits no input"),
    Case("npy_named_wrong_size", ["run", "{x}", "-i", "input:{npy_small}", "-niter", "1"], _inputs("input:{npy_small}"),
         InputDataError, "input 'input' expects 1x1x28x28 (784 elements)"),
    Case("npy_garbage", ["run", "{x}", "-i", "{npy_garbage}", "-niter", "1"], lambda c: read_npy(c.npy_garbage), InputDataError,
         "garbage.npy is not an .npy file"),
    Case("npy_truncated", ["run", "{x}", "-i", "{npy_truncated}", "-niter", "1"], lambda c: read_npy(c.npy_truncated),
         InputDataError, "truncated.npy is truncated: its header says 28x28 float32"),
    Case("npy_not_numbers", ["run", "{x}", "-i", "{npy_strings}", "-niter", "1"], lambda c: read_npy(c.npy_strings),
         InputDataError, "strings.npy holds <U1 values, not numbers"),
    Case("npz_archive", ["run", "{x}", "-i", "{npz}", "-niter", "1"], lambda c: read_npy(c.npz), InputDataError,
         "archive.npz is an .npz archive"),
    Case("npy_missing", ["run", "{x}", "-i", "{d}/missing.npy", "-niter", "1"], lambda c: run(c.x, inputs=[str(c.d / "missing.npy")]),
         InputDataError, "missing.npy does not exist"),
    Case("npy_unknown_input", ["run", "{x}", "-i", "nope:{npy_f64}", "-niter", "1"], _inputs("nope:{npy_f64}"), InputDataError,
         "-i names input 'nope', which the model does not have"),
    # options
    Case("run_niter_huge", ["run", "{x}", "-niter", "100000000000"], lambda c: run(c.x, niter=10**11), OptionError,
         "-niter 100000000000 is too large"),
    # predict: what is wrong with the request is said before the calibration is looked up
    Case("predict_garbage_model", ["predict", "{onnx_garbage}"], lambda c: predict(c.onnx_garbage), ModelFileError,
         "garbage.onnx is not a valid ONNX file"),
    Case("predict_unknown_precision", ["predict", "{x}", "--precision", "f64"], lambda c: predict(c.x, precision="f64"),
         OptionError, "unknown --precision 'f64'"),
    Case("predict_zero_threads", ["predict", "{x}", "-nthreads", "0"], lambda c: predict(c.x, nthreads=0), OptionError,
         "-nthreads 0 is not allowed"),
    Case("predict_unknown_engine", ["predict", "{x}", "--engine", "nope"], lambda c: predict(c.x, engine="nope"), EngineError,
         "unknown engine 'nope'"),
    Case("run_niter_zero", ["run", "{x}", "-niter", "0"], lambda c: run(c.x, niter=0), OptionError, "-niter 0 is not allowed"),
    Case("bench_niter_huge", ["bench", "{x}", "-niter", "100000000000"],
         lambda c: bench(c.x, policy=RunPolicy(min_iterations=10**11)), OptionError, "-niter 100000000000 is too large"),
    Case("bench_time_zero", ["bench", "{x}", "-t", "0"], lambda c: bench(c.x, policy=RunPolicy(min_duration_s=0)), OptionError,
         "-t 0 must be more than 0 seconds"),
    Case("bench_time_negative", ["bench", "{x}", "-t", "-5"], lambda c: bench(c.x, policy=RunPolicy(min_duration_s=-5)),
         OptionError, "-t -5 must be more than 0 seconds"),
    Case("unknown_engine", ["bench", "{x}", "--engine", "tensorflow"], lambda c: bench(c.x, engines=("tensorflow",)), EngineError,
         "unknown engine 'tensorflow'"),
    Case("unknown_device", ["run", "{x}", "-d", "QPU"], lambda c: run(c.x, device="QPU"), EngineError,
         "device 'QPU' is not available to OpenVINO"),
    Case("unknown_precision", ["bench", "{x}", "--precision", "f64"],
         lambda c: bench(c.x, config=EngineConfig(precision="f64"), policy=QUICK), OptionError, "unknown --precision 'f64'"),
    Case("unknown_hint", ["bench", "{x}", "-hint", "fastest"], lambda c: bench(c.x, config=EngineConfig(hint="fastest")),
         OptionError, "unknown -hint 'fastest'"),
    Case("unknown_format", ["flops", "{x}", "--format", "yaml"], lambda c: check_format("count", "yaml"), OptionError,
         "unknown format 'yaml'"),
    Case("onnxruntime_on_ir", ["run", "{x}", "--engine", "onnxruntime", "-niter", "1"], lambda c: run(c.x, engine="onnxruntime"),
         EngineError, "ONNX Runtime cannot run sep_cnn.xml: it runs ONNX files only"),
    # outputs
    Case("output_folder_missing", ["flops", "{x}", "-o", "{out}/no/such/folder/cost.json"],
         lambda c: atomic.write_text_atomic(c.d / "no" / "such" / "cost.json", "{}"), OutputError, "/no/such"),
    Case("output_parent_is_a_file", ["flops", "{x}", "-o", "{regular}/cost.json"],
         lambda c: atomic.write_text_atomic(c.regular / "cost.json", "{}"), OutputError, "regular.txt is not a folder"),
    Case("output_not_writable", ["flops", "{x}", "-o", "/proc/cost.json"], lambda c: atomic.write_text_atomic("/proc/cost.json", "{}"),
         OutputError, "output folder /proc"),
    Case("output_is_a_folder", ["flops", "{x}", "-o", "{out}"], lambda c: atomic.write_text_atomic(c.folder, "{}"), OutputError,
         "is a folder; give a file name"),
    # zoo
    Case("zoo_unknown_name", ["zoo", "resnet50", "-o", "{out}"], lambda c: write_zoo_model("resnet50", c.d / "unused"), OptionError,
         "unknown zoo model 'resnet50'; choose one of: sep_cnn, std_cnn, mobilenet_v1, conv_mobilenet_v1, mobilenet_v2, vgg16"),
    Case("zoo_alpha_on_a_fixed_model", ["zoo", "sep_cnn", "--alpha", "0.5", "-o", "{out}"],
         lambda c: write_zoo_model("sep_cnn", c.d / "unused", alpha=0.5), OptionError, "zoo model sep_cnn takes no --alpha"),
    Case("zoo_alpha_zero", ["zoo", "mobilenet_v1", "--alpha", "0", "-o", "{out}"],
         lambda c: write_zoo_model("mobilenet_v1", c.d / "unused", alpha=0), OptionError, "--alpha 0 is out of range"),
    Case("zoo_resolution_tiny", ["zoo", "mobilenet_v2", "--resolution", "8", "-o", "{out}"],
         lambda c: write_zoo_model("mobilenet_v2", c.d / "unused", resolution=8), OptionError, "--resolution 8 is out of range"),
    Case("zoo_unknown_format", ["zoo", "sep_cnn", "--format", "caffe", "-o", "{out}"],
         lambda c: write_zoo_model("sep_cnn", c.d / "unused", fmt="caffe"), OptionError, "unknown --format 'caffe' for zoo"),
    # convert
    Case("convert_unknown_target", ["convert", "--to", "sideways", "{x}", "-o", "{out}/c.xml"],
         lambda c: convert(c.x, "sideways", c.d / "c.xml"), OptionError, "unknown --to 'sideways'"),
    Case("convert_other_format", ["convert", "--to", "separable", "{o}", "-o", "{out}/c.xml"],
         lambda c: convert(c.o, "separable", c.d / "c.xml"), OptionError,
         "the converted model is written in the format it was read in (.onnx); name the output c.onnx"),
    Case("convert_over_its_input", ["convert", "--to", "separable", "{x}", "-o", "{x}"],
         lambda c: convert(c.x, "separable", c.x), OutputError, "is an input of this command"),
    Case("convert_missing_model", ["convert", "--to", "standard", "{d}/missing.onnx", "-o", "{out}/c.onnx"],
         lambda c: convert(c.d / "missing.onnx", "standard", c.d / "c.onnx"), ModelFileError, "missing.onnx does not exist"),
    # quantize and memory budgets
    Case("quantize_already_quantized", ["quantize", "{quantized}", "-o", "{out}/q"], lambda c: quantize(c.quantized, c.d / "unused"),
         ModelFileError, "int8.xml is already quantized (1 FakeQuantize ops)"),
    Case("quantize_calibration_wrong_shape", ["quantize", "{x}", "-o", "{out}/q", "--calibration", "{calibration}"],
         lambda c: quantize(c.x, c.d / "unused", calibration=c.calibration), InputDataError,
         "calibration file b_bad.npy has shape 1x1x27x27 (729 elements); input 'input' expects 1x1x28x28"),
    Case("quantize_calibration_missing", ["quantize", "{x}", "-o", "{out}/q", "--calibration", "{d}/nowhere"],
         lambda c: quantize(c.x, c.d / "unused", calibration=c.d / "nowhere"), InputDataError, "nowhere does not exist or is not a folder"),
    Case("quantize_samples_zero", ["quantize", "{x}", "-o", "{out}/q", "--samples", "0"],
         lambda c: quantize(c.x, c.d / "unused", samples=0), OptionError, "--samples 0 is not allowed"),
    Case("flops_measure_memory_unknown_engine", ["flops", "{x}", "--measure-memory", "openvino,tensorflow"],
         lambda c: measure_footprint(c.x, "tensorflow"), EngineError, "unknown engine 'tensorflow'"),
    Case("flops_memory_budget_malformed", ["flops", "{x}", "--memory-budget", "64XB"], lambda c: parse_size("64XB"), OptionError,
         "memory size '64XB' is not a size"),
    Case("report_model_and_results", ["report", "{x}", "{d}/bench.json"],
         lambda c: split_sources([str(c.x), str(c.d / "bench.json")]), OptionError, "either one model or result files"),
    Case("report_not_a_result", ["report", "{not_a_result}"], lambda c: flopbench.load_result(c.not_a_result), ResultFileError,
         "package.json is not a flopbench result"),
    Case("report_result_missing", ["report", "{d}/missing.json"], lambda c: flopbench.load_result(c.d / "missing.json"),
         ResultFileError, "cannot read result"),
    Case("report_measuring_flag_on_results", ["report", "{not_a_result}", "-t", "3"],
         lambda c: refuse_measuring_flags({"seconds": 3.0}), OptionError, "-t: only for measuring a model"),
    Case("compare_html_over_the_model", ["compare", "{x}", "{x}", "--html", "{x}"],
         lambda c: atomic.check_writable(c.x, protect=[c.x]), OutputError, "is an input of this command"),
    Case("report_two_models", ["report", "{x}", "{x}"], lambda c: split_sources([str(c.x), str(c.x)]), OptionError,
         "measures one model, got 2"),
    Case("report_time_zero", ["report", "{x}", "-t", "0"], lambda c: bench(c.x, policy=RunPolicy(min_duration_s=0)),
         OptionError, "-t 0"),
    Case("report_over_the_model", ["report", "{x}", "-o", "{x}"], lambda c: atomic.check_writable(c.x, protect=[c.x]),
         OutputError, "is an input of this command"),
    Case("report_folder_missing", ["report", "{x}", "-o", "{out}/missing/report.html", "-t", "0.01"],
         lambda c: atomic.check_writable(c.d / "missing" / "report.html"), OutputError, "/missing does not exist"),
    # profile and machine
    Case("profile_niter_zero", ["profile", "{x}", "-niter", "0"], lambda c: profile(c.x, iterations=0), OptionError,
         "-niter 0 is not allowed"),
    Case("profile_virtual_device", ["profile", "{x}", "-d", "AUTO"], lambda c: profile(c.x, device="AUTO"), ProfilingError,
         "device AUTO cannot profile layer by layer"),
    Case("profile_no_counted_ops", ["profile", "{onnx_uncounted}"], lambda c: profile(c.onnx_uncounted), ProfilingError,
         "uncounted.onnx has no counted ops"),
    Case("profile_plot_type", ["profile", "{x}", "--plot", "{out}/roofline.txt"],
         lambda c: profile_command(["profile", str(c.x), "--plot", str(c.d / "roofline.txt")]), OptionError,
         "roofline.txt: unknown image type"),
    Case("machine_unknown_engine", ["machine", "--engine", "tensorflow"], lambda c: roofline("tensorflow"), EngineError,
         "unknown engine 'tensorflow'"),
    # compare
    Case("compare_one_model", ["compare", "{x}", "-t", "0.01"], lambda c: compare([c.x], policy=QUICK), OptionError,
         "compare needs at least two models, got 1"),
    Case("compare_unknown_engine", ["compare", "{x}", "{o}", "--engine", "tensorflow"],
         lambda c: compare([c.x, c.o], engines=("tensorflow",), policy=QUICK), EngineError, "unknown engine 'tensorflow'"),
    Case("compare_unknown_format", ["compare", "{x}", "{o}", "--format", "yaml"], lambda c: check_format("compare", "yaml"),
         OptionError, "unknown format 'yaml'"),
    Case("compare_onnxruntime_on_ir", ["compare", "{o}", "{x}", "--engine", "onnxruntime", "-t", "0.01"],
         lambda c: compare([c.o, c.x], engines=("onnxruntime",), policy=QUICK), EngineError, "ONNX Runtime cannot run sep_cnn.xml"),
    # fleet: every refusal comes before a cluster is asked for anything
    Case("fleet_bench_missing_model", ["fleet", "bench", "{d}/missing.onnx", "-t", "0.1"],
         lambda c: fleet_bench([c.d / "missing.onnx"]), ModelFileError, "missing.onnx does not exist"),
    Case("fleet_bench_onnxruntime_on_ir", ["fleet", "bench", "{x}", "--engine", "onnxruntime", "-t", "0.1"],
         lambda c: fleet_bench([c.x], engines=("onnxruntime",)), EngineError, "ONNX Runtime cannot run sep_cnn.xml"),
    Case("fleet_unreachable_address", ["fleet", "bench", "{x}", "--address", "127.0.0.1:9", "-t", "0.1"],
         lambda c: fleet_bench([c.x], address="127.0.0.1:9"), FleetError, "cannot reach a Ray cluster at 127.0.0.1:9"),
    Case("fleet_address_without_port", ["fleet", "bench", "{x}", "--address", "headnode", "-t", "0.1"],
         lambda c: fleet_bench([c.x], address="headnode"), FleetError, "--address 'headnode' has no port"),
    Case("fleet_sweep_points_not_json", ["fleet", "sweep", "{regular}", "--json", "{out}/r.json"],
         lambda c: read_points_file(c.regular), OptionError, "points file regular.txt is not JSON"),
    Case("fleet_sweep_unknown_field", ["fleet", "sweep", "{points_unknown_field}", "--json", "{out}/r.json"],
         lambda c: prepare_bench_points(read_points_file(c.points_unknown_field), c.d), OptionError,
         "point 1 has an unknown field 'speed'"),
    Case("fleet_sweep_negative_retries", ["fleet", "sweep", "{points_ok}", "--json", "{out}/r.json", "--retries", "-1"],
         lambda c: fleet_sweep(read_points_file(c.points_ok), c.d / "r.json", base=c.d, retries=-1), OptionError,
         "--retries -1 is not allowed"),
    Case("fleet_sweep_results_file_of_another_kind", ["fleet", "sweep", "{points_ok}", "--json", "{not_a_fleet_result}"],
         lambda c: fleet_sweep(read_points_file(c.points_ok), c.not_a_fleet_result, base=c.d), ResultFileError,
         "not_a_fleet_result.json is not a flopbench result"),
    Case("fleet_sweep_over_its_points_file", ["fleet", "sweep", "{points_ok}", "--json", "{points_ok}"],
         lambda c: fleet_sweep(read_points_file(c.points_ok), c.points_ok, base=c.d, protect=[c.points_ok]), OutputError,
         "is an input of this command"),
    Case("fleet_bench_external_data_symlink", ["fleet", "bench", "{onnx_link_private}", "-t", "0.1"],
         lambda c: fleet_bench([c.onnx_link_private]), ModelFileError, "external data file w.bin resolves outside the model's folder"),
    Case("fleet_bench_external_data_to_etc_passwd", ["fleet", "bench", "{onnx_link_passwd}", "--address", "127.0.0.1:9", "-t", "0.1"],
         lambda c: fleet_bench([c.onnx_link_passwd], address="127.0.0.1:9"), ModelFileError,
         "external data file w.bin resolves outside the model's folder"),
    Case("fleet_sweep_repeated_key", ["fleet", "sweep", "{points_repeated_key}", "--json", "{out}/r.json", "--address", "127.0.0.1:9"],
         lambda c: fleet_sweep(read_points_file(c.points_repeated_key), c.d / "r.json", base=c.d, address="127.0.0.1:9"), OptionError,
         "sweep points repeat the key 'k'"),
    Case("fleet_sweep_repeated_point", ["fleet", "sweep", "{points_repeated}", "--json", "{out}/r.json", "--address", "127.0.0.1:9"],
         lambda c: fleet_sweep(read_points_file(c.points_repeated), c.d / "r.json", base=c.d, address="127.0.0.1:9"), OptionError,
         "sweep points repeat the key"),
    Case("report_result_is_a_fifo", ["report", "{fifo}"], lambda c: flopbench.load_result(c.fifo), ResultFileError,
         "fifo.json is not a regular file"),
    Case("compare_result_is_dev_zero", ["compare", "{zero}"], lambda c: flopbench.load_result(c.zero), ResultFileError,
         "zero.json is not a regular file"),
    Case("report_result_nested_deeply", ["report", "{deep}"], lambda c: flopbench.load_result(c.deep), ResultFileError,
         "deep.json is nested too deeply"),
    Case("report_result_with_nan", ["report", "{nan_result}"], lambda c: flopbench.load_result(c.nan_result), ResultFileError,
         "nan_result.json holds NaN"),
    Case("study_points_fifo", ["study", "sepconv", "--points", "{fifo}", "-o", "{out}/s"], lambda c: load_points(c.fifo), OptionError,
         "fifo.json is not a regular file"),
    Case("fleet_sweep_points_dev_zero", ["fleet", "sweep", "{zero}", "--json", "{out}/r.json"], lambda c: read_points_file(c.zero),
         OptionError, "zero.json is not a regular file"),
    Case("fleet_sweep_points_fifo", ["fleet", "sweep", "{fifo}", "--json", "{out}/r.json"], lambda c: read_points_file(c.fifo),
         OptionError, "fifo.json is not a regular file"),
    Case("fleet_sweep_points_number_too_large", ["fleet", "sweep", "{huge_number}", "--json", "{out}/r.json"],
         lambda c: read_points_file(c.huge_number), OptionError, "huge_number.json holds a number too large"),
    # result files checked against their schema and sanity bounds when loaded: the file and the field named
    Case("report_result_negative_latency", ["report", "{negative_latency}"], lambda c: flopbench.load_result(c.negative_latency),
         ResultFileError, "negative_latency.json: results[0].latencies_ns.engine[0] is -1, below the minimum 0"),
    Case("report_result_latency_too_large", ["report", "{latency_too_large}"], lambda c: flopbench.load_result(c.latency_too_large),
         ResultFileError, "latency_too_large.json: results[0].latencies_ns.engine[2] is 1e+30, larger than any number a flopbench result holds"),
    Case("report_result_integer_of_401_digits", ["report", "{digits_400}"], lambda c: flopbench.load_result(c.digits_400),
         ResultFileError, "digits_400.json: results[0].iterations is a number of 401 digits"),
    Case("report_result_negative_median", ["report", "{negative_median}"], lambda c: flopbench.load_result(c.negative_median),
         ResultFileError, "negative_median.json: results[0].engine_latency.median_ns is -5, below the minimum 0"),
    Case("report_result_latency_a_string", ["report", "{latency_not_a_number}"], lambda c: flopbench.load_result(c.latency_not_a_number),
         ResultFileError, 'latency_not_a_number.json: results[0].latencies_ns.engine[1] is "2", not integer'),
    Case("report_count_negative_macs", ["report", "{negative_macs}"], lambda c: flopbench.load_result(c.negative_macs),
         ResultFileError, "negative_macs.json: layers[1].macs is -3, below the minimum 0"),
    Case("report_count_layer_without_name", ["report", "{layer_without_name}"], lambda c: flopbench.load_result(c.layer_without_name),
         ResultFileError, "layer_without_name.json: layers[0].name is missing"),
    # exit 1 that were bad input: now one line, exit 2
    Case("output_name_too_long", ["flops", "{x}", "-o", "{out}/" + "a" * 300 + ".json"],
         lambda c: atomic.check_writable(c.d / ("a" * 300 + ".json")), OutputError, "file name too long"),
    Case("bench_json_name_too_long", ["bench", "{x}", "-t", "0.01", "--json", "{out}/" + "b" * 300 + ".json"],
         lambda c: profile_command(["bench", str(c.x), "--json", str(c.d / ("b" * 300 + ".json"))]), OutputError, "file name too long"),
    Case("convert_negative_seed", ["convert", "{o}", "--to", "separable", "-o", "{out}/c.onnx", "--seed", "-5"],
         lambda c: convert(c.o, "separable", c.d / "c_seed.onnx", seed=-5), OptionError, "--seed -5 is not allowed"),
    Case("study_points_seed_not_a_number", ["study", "sepconv", "--points", "{points_bad_seed}", "-o", "{out}/s"],
         lambda c: load_points(c.points_bad_seed), OptionError, "seed 'abc' is not allowed"),
    Case("fleet_bench_input_wrong_size", ["fleet", "bench", "{x}", "-i", "{npy_small}", "-t", "0.1"],
         lambda c: fleet_bench([c.x], inputs=[str(c.npy_small)]), InputDataError, "small.npy has shape 3x3 (9 elements), which fits no input"),
    Case("fleet_bench_input_pickle", ["fleet", "bench", "{x}", "-i", "{npy_object}", "-t", "0.1"],
         lambda c: fleet_bench([c.x], inputs=[str(c.npy_object)]), InputDataError, "object_array.npy holds Python objects (a pickle)"),
    # fleet profile: the same refusals as profile's, before a cluster is asked for anything
    Case("fleet_profile_missing_model", ["fleet", "profile", "{d}/missing.onnx"],
         lambda c: fleet_profile([c.d / "missing.onnx"]), ModelFileError, "missing.onnx does not exist"),
    Case("fleet_profile_niter_zero", ["fleet", "profile", "{x}", "-niter", "0"],
         lambda c: fleet_profile([c.x], iterations=0), OptionError, "-niter 0 is not allowed"),
    Case("fleet_profile_warmup_negative", ["fleet", "profile", "{x}", "--warmup", "-1"],
         lambda c: fleet_profile([c.x], warmup=-1), OptionError, "--warmup -1 is not allowed"),
    Case("fleet_profile_virtual_device", ["fleet", "profile", "{x}", "-d", "AUTO"],
         lambda c: fleet_profile([c.x], device="AUTO"), ProfilingError, "device AUTO cannot profile layer by layer"),
    Case("fleet_profile_unknown_engine", ["fleet", "profile", "{x}", "--engine", "tensorflow"],
         lambda c: fleet_profile([c.x], engines=("tensorflow",)), EngineError, "unknown engine 'tensorflow'"),
    Case("fleet_profile_onnxruntime_on_ir", ["fleet", "profile", "{x}", "--engine", "onnxruntime"],
         lambda c: fleet_profile([c.x], engines=("onnxruntime",)), EngineError, "ONNX Runtime cannot run sep_cnn.xml"),
    Case("fleet_profile_input_wrong_size", ["fleet", "profile", "{x}", "-i", "input:{npy_small}"],
         lambda c: fleet_profile([c.x], inputs=[f"input:{c.npy_small}"]), InputDataError, "input 'input' expects 1x1x28x28 (784 elements)"),
    Case("fleet_profile_json_over_its_model", ["fleet", "profile", "{o}", "--json", "{o}"],
         lambda c: fleet_profile([c.o], results_path=c.o), OutputError, "is an input of this command"),
    Case("fleet_profile_unreachable_address", ["fleet", "profile", "{x}", "--address", "127.0.0.1:9"],
         lambda c: fleet_profile([c.x], address="127.0.0.1:9"), FleetError, "cannot reach a Ray cluster at 127.0.0.1:9"),
    # compare and report of a gathered fleet file: nothing is measured, so nothing is asked of a cluster
    Case("compare_two_fleet_files", ["compare", "{fleet_empty}", "{fleet_empty}"],
         lambda c: profile_command(["compare", str(c.fleet_empty), str(c.fleet_empty)]), OptionError,
         "compare reads one gathered fleet file, got 2 .json files"),
    Case("compare_fleet_file_with_run_flags", ["compare", "{fleet_empty}", "-t", "1"],
         lambda c: profile_command(["compare", str(c.fleet_empty), "-t", "1"]), OptionError, "-t: only for measuring a model"),
    Case("compare_fleet_file_without_results", ["compare", "{fleet_empty}"], lambda c: side_by_side(flopbench.load_result(c.fleet_empty)),
         ResultFileError, "the fleet file holds no finished result"),
    Case("compare_fleet_sweep_file", ["compare", "{fleet_sweep}"], lambda c: side_by_side(flopbench.load_result(c.fleet_sweep)),
         ResultFileError, "a fleet sweep file holds points spread over the nodes"),
    Case("compare_not_a_result", ["compare", "{not_a_result}"], lambda c: flopbench.load_result(c.not_a_result), ResultFileError,
         "package.json is not a flopbench result"),
    Case("compare_fleet_file_over_itself", ["compare", "{fleet_empty}", "-o", "{fleet_empty}"],
         lambda c: profile_command(["compare", str(c.fleet_empty), "-o", str(c.fleet_empty)]), OutputError, "is an input of this command"),
    Case("report_fleet_file_with_others", ["report", "{fleet_empty}", "{fleet_sweep}"],
         lambda c: profile_command(["report", str(c.fleet_empty), str(c.fleet_sweep), "-o", str(c.d / "r.html")]), ResultFileError,
         "fleet_empty.json is a gathered fleet file, shown on a page of its own"),
    Case("report_fleet_file_without_results", ["report", "{fleet_empty}"],
         lambda c: side_by_side(flopbench.load_result(c.fleet_empty)), ResultFileError, "the fleet file holds no finished result"),
    # study
    Case("study_unknown_name", ["study", "resnet", "-o", "{out}/s"], lambda c: profile_command(["study", "resnet", "-o", str(c.d / "s")]),
         OptionError, "unknown study 'resnet'"),
    Case("study_channels_zero", ["study", "sepconv", "--channels", "0", "-o", "{out}/s"],
         lambda c: generate_points(SweepOptions(channels=(0,))), OptionError, "--channels 0 must be whole numbers of 1 or more"),
    Case("study_unknown_config", ["study", "sepconv", "--configs", "tensorflow:f32", "-o", "{out}/s"],
         lambda c: generate_points(SweepOptions(configs=("tensorflow:f32",))), OptionError, "unknown engine 'tensorflow' in --configs"),
    Case("study_points_missing", ["study", "sepconv", "--points", "{d}/missing.json", "-o", "{out}/s"],
         lambda c: load_points(c.d / "missing.json"), OptionError, "missing.json does not exist"),
    Case("study_kernel_larger_than_input", ["study", "sepconv", "--kernel", "9", "--size", "8", "-o", "{out}/s"],
         lambda c: generate_points(SweepOptions(kernels=(9,), sizes=(8,))), OptionError, "kernel 9 is larger than the input (8)"),
    Case("study_html_to_a_folder", ["study", "sepconv", "--channels", "8", "--size", "8", "--kernel", "3", "--stride", "1",
                                    "--configs", "openvino:f32", "-o", "{out}/s", "--html", "{out}"],
         lambda c: atomic.check_writable(c.d), OutputError, "is a folder"),
    Case("study_html_over_its_results", ["study", "sepconv", "--channels", "8", "--size", "8", "--kernel", "3", "--stride", "1",
                                         "--configs", "openvino:f32", "-o", "{out}/s", "--html", "{out}/s/results.json"],
         lambda c: profile_command(["study", "sepconv", "-o", str(c.d / "s"), "--html", str(c.d / "s" / "results.json")]),
         OutputError, "is the sweep's own results.json"),
    Case("study_mobilenet_html", ["study", "mobilenet", "--html", "{out}/m.html"],
         lambda c: profile_command(["study", "mobilenet", "--html", str(c.d / "m.html")]), OptionError, "--html is for study sepconv"),
    Case("report_sweep_with_other_results", ["report", "{sweep_results}", "{sweep_results}"],
         lambda c: profile_command(["report", str(c.sweep_results), str(c.sweep_results), "-o", str(c.d / "r.html")]),
         ResultFileError, "a sweep's results make a page of their own, got 2 result files"),
    # two outputs of one command that are one file (a model's .bin included): refused before measuring
    Case("quantize_json_is_its_models_bin", ["quantize", "{x}", "-o", "{out}/q3.xml", "--json", "{out}/q3.bin"],
         lambda c: profile_command(["quantize", str(c.x), "-o", str(c.d / "q3.xml"), "--json", str(c.d / "q3.bin")]), OutputError,
         "q3.bin would be written twice: by -o (the model's weights) and by --json"),
    Case("convert_json_is_its_model", ["convert", "{o}", "--to", "separable", "-o", "{out}/c1.onnx", "--json", "{out}/c1.onnx"],
         lambda c: profile_command(["convert", str(c.o), "--to", "separable", "-o", str(c.d / "c1.onnx"), "--json", str(c.d / "c1.onnx")]),
         OutputError, "c1.onnx would be written twice: by -o and by --json"),
    Case("convert_json_is_its_models_bin", ["convert", "{x}", "--to", "separable", "-o", "{out}/c2.xml", "--json", "{out}/c2.bin"],
         lambda c: profile_command(["convert", str(c.x), "--to", "separable", "-o", str(c.d / "c2.xml"), "--json", str(c.d / "c2.bin")]),
         OutputError, "c2.bin would be written twice: by -o (the model's weights) and by --json"),
    Case("bench_output_is_its_json", ["bench", "{x}", "-o", "{out}/same.json", "--json", "{out}/./same.json", "-t", "0.01"],
         lambda c: profile_command(["bench", str(c.x), "-o", str(c.d / "same.json"), "--json", str(c.d / "same.json")]), OutputError,
         "same.json would be written twice: by -o and by --json"),
    Case("compare_output_is_its_html", ["compare", "{x}", "{o}", "-o", "{out}/x.html", "--html", "{out}/x.html", "-t", "0.01"],
         lambda c: profile_command(["compare", str(c.x), str(c.o), "-o", str(c.d / "x.html"), "--html", str(c.d / "x.html")]),
         OutputError, "x.html would be written twice: by -o and by --html"),
    Case("profile_output_is_its_plot", ["profile", "{x}", "-o", "{out}/p.svg", "--plot", "{out}/p.svg"],
         lambda c: profile_command(["profile", str(c.x), "-o", str(c.d / "p.svg"), "--plot", str(c.d / "p.svg")]), OutputError,
         "p.svg would be written twice: by -o and by --plot"),
    Case("bench_json_folder_missing", ["bench", "{x}", "--json", "{out}/missing/bench.json", "-t", "0.01"],
         lambda c: atomic.check_writable(c.d / "missing" / "bench.json"), OutputError, "/missing does not exist"),
]

WARNING_CASES = [  # (id, -i file attribute, needle): run exits 0 with one warning line
    ("npy_float64_converted", "npy_f64", "float64.npy holds float64; converted to float32"),
    ("npy_int64_converted", "npy_i64", "int64.npy holds int64; converted to float32"),
    ("npy_nan", "npy_nan", "nan.npy contains 1 NaN or Inf values"),
    ("npy_inf", "npy_inf", "inf.npy contains 2 NaN or Inf values"),
]

# values far too large to print, in a message capped to their start: its line stays short
HUGE_VALUE_CASES = [
    Case("fleet_sweep_seed_a_million_items", ["fleet", "sweep", "{points_seed_million}", "--json", "{out}/r.json"],
         lambda c: prepare_bench_points(read_points_file(c.points_seed_million), c.d), OptionError, "... has the wrong type"),
    Case("fleet_sweep_engines_a_million_numbers", ["fleet", "sweep", "{points_engines_numbers}", "--json", "{out}/r.json"],
         lambda c: prepare_bench_points(read_points_file(c.points_engines_numbers), c.d), OptionError, "... has the wrong type"),
    Case("fleet_sweep_field_name_a_megabyte", ["fleet", "sweep", "{points_field_megabyte}", "--json", "{out}/r.json"],
         lambda c: prepare_bench_points(read_points_file(c.points_field_megabyte), c.d), OptionError, "point 1 has an unknown field 'sss"),
    Case("fleet_sweep_model_name_a_megabyte", ["fleet", "sweep", "{points_model_megabyte}", "--json", "{out}/r.json"],
         lambda c: prepare_bench_points(read_points_file(c.points_model_megabyte), c.d), ModelFileError, "... (File name too long)"),
    Case("study_points_channels_a_million_items", ["study", "sepconv", "--points", "{study_channels_million}", "-o", "{out}/s"],
         lambda c: load_points(c.study_channels_million), OptionError, "... must be whole numbers of 1 or more"),
    Case("study_points_engine_a_megabyte", ["study", "sepconv", "--points", "{study_engine_megabyte}", "-o", "{out}/s"],
         lambda c: load_points(c.study_engine_megabyte), OptionError, "unknown engine 'eee"),
    Case("study_points_seed_a_megabyte", ["study", "sepconv", "--points", "{study_seed_megabyte}", "-o", "{out}/s"],
         lambda c: load_points(c.study_seed_megabyte), OptionError, "... is not allowed"),
    Case("study_points_key_a_megabyte_and_no_fields", ["study", "sepconv", "--points", "{study_point_megabyte_without_fields}", "-o", "{out}/s"],
         lambda c: load_points(c.study_point_megabyte_without_fields), OptionError, "... lacks in_channels"),
    Case("flops_shape_names_no_input_of_a_megabyte_name", ["flops", "{onnx_megabyte_name}", "--shape", "wrong:1x4"],
         lambda c: flopbench.load(c.onnx_megabyte_name, shape="wrong:1x4"), ShapeError, "which the model does not have"),
    Case("flops_shape_rank_of_an_input_with_a_megabyte_name", ["flops", "{onnx_megabyte_name}", "--shape", "1x4x4"],
         lambda c: flopbench.load(c.onnx_megabyte_name, shape="1x4x4"), ShapeError, "... 3 dimensions, but it has 2"),
    Case("bench_input_names_no_input_of_a_megabyte_name", ["bench", "{onnx_megabyte_name}", "-i", "other:{npy_small}", "-t", "0.01"],
         lambda c: prepare_inputs(flopbench.load(c.onnx_megabyte_name).inputs, [f"other:{c.npy_small}"]), InputDataError,
         "-i names input 'other', which the model does not have"),
    Case("bench_input_fits_no_input_of_a_megabyte_name", ["bench", "{onnx_megabyte_name}", "-i", "{npy_small}", "-t", "0.01"],
         lambda c: prepare_inputs(flopbench.load(c.onnx_megabyte_name).inputs, [str(c.npy_small)]), InputDataError,
         "... (1x4)"),
    Case("flops_shape_of_100000_dimensions", ["flops", "{x}", "--shape", "{shape_100k_dims}"],
         lambda c: flopbench.load(c.x, shape=c.shape_100k_dims), ShapeError, "has 100000 dimensions"),
]
CASES += HUGE_VALUE_CASES
LONGEST_LINE = 400  # characters of an error line whose values were capped


@pytest.mark.parametrize("case", HUGE_VALUE_CASES, ids=lambda c: c.id)
def test_a_huge_value_is_shown_by_its_start(case: Case, corpus, tmp_path, capfd):
    out = tmp_path / "out"
    out.mkdir()
    assert main(_argv(case, corpus, out)) == 2
    line = _check_line(capfd.readouterr().err, case.needle)
    assert len(line) <= LONGEST_LINE, (len(line), line[:300])


SUBPROCESS_CASES = ["fleet_unreachable_address", "missing_path", "ir_truncated", "onnx_garbage", "dynamic_spatial_no_shape", "shape_negative",
                    "npy_pickle_object_array", "bench_time_zero", "output_parent_is_a_file"]


def test_the_corpus_is_big_enough():
    assert len({c.id for c in CASES}) == len(CASES) >= 30
    assert set(SUBPROCESS_CASES) <= {c.id for c in CASES}


def _argv(case: Case, corpus: SimpleNamespace, out: Path) -> list[str]:
    values = {k: str(v) for k, v in vars(corpus).items()}
    argv = [a.format(out=out, **values) for a in case.cli]
    if argv[0] == "flops" and "-o" not in argv:  # a run that would write a file must leave none behind
        argv += (["--format", "json"] if "--format" not in argv else []) + ["-o", str(out / "cost.json")]
    if argv[0] == "report" and "-o" not in argv:
        argv += ["-o", str(out / "report.html")]
    if argv[0] == "bench" and "--json" not in argv:
        argv += ["--json", str(out / "bench.json")]
    return argv


def _check_line(stderr: str, needle: str, prefix: str = "flopbench: error: ") -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _assert_nothing_written(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == [], "a file was left behind"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_api(case: Case, corpus):
    with pytest.raises(FlopbenchError) as caught:
        case.api(corpus)
    error = caught.value
    assert type(error) is case.error, f"{type(error).__name__}: {error}"
    message = str(error)
    assert case.needle in message
    assert "\n" not in message and error.fix, message  # one line that names the problem and the fix
    assert not corpus.marker.exists()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cli(case: Case, corpus, tmp_path, capfd):
    out = tmp_path / "out"
    out.mkdir()
    code = main(_argv(case, corpus, out))
    captured = capfd.readouterr()
    assert code == 2, (code, captured.err)
    _check_line(captured.err, case.needle)
    _assert_nothing_written(out)
    assert not list(corpus.d.rglob("*.tmp")) and not list(Path("/proc").glob(".cost.json.*"))
    assert not corpus.marker.exists()


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_cli_subprocess(case_id, corpus, tmp_path):
    case = next(c for c in CASES if c.id == case_id)
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, "-m", "flopbench", *_argv(case, corpus, out)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 2, (done.returncode, done.stderr)
    _check_line(done.stderr, case.needle)
    _assert_nothing_written(out)
    assert not corpus.marker.exists()


@pytest.mark.parametrize("case_id,attr,needle", WARNING_CASES, ids=[w[0] for w in WARNING_CASES])
def test_warning_api_and_cli(case_id, attr, needle, corpus, capfd):
    result = run(corpus.x, inputs=[str(getattr(corpus, attr))], niter=1)
    assert any(needle in w for w in result.warnings), result.warnings
    capfd.readouterr()
    code = main(["run", str(corpus.x), "-i", str(getattr(corpus, attr)), "-niter", "1"])
    captured = capfd.readouterr()
    assert code == 0, captured.err
    _check_line(captured.err, needle, prefix="flopbench: warning: ")
    assert "Time taken to run 1 iterations is:" in captured.out


def test_warning_subprocess(corpus):
    done = subprocess.run([sys.executable, "-m", "flopbench", "run", str(corpus.x), "-i", str(corpus.npy_nan), "-niter", "2"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    _check_line(done.stderr, "nan.npy contains 1 NaN or Inf values", prefix="flopbench: warning: ")


def test_bench_keeps_the_nan_warning(corpus, tmp_path):
    report = bench(corpus.x, inputs=[str(corpus.npy_nan)], policy=QUICK)
    assert any("nan.npy contains 1 NaN or Inf values" in w for w in report.results[0].warnings)
    assert report.to_dict()["results"][0]["warnings"]


# --- caches: checked as result files are, and refused before anything is measured ---------------


def _zero_bandwidth(document):
    document["bandwidth_gb_per_s"] = 0


def _zero_peak(document):
    document["peaks"]["f32"]["gflops_per_s"] = 0


def _negative_level(document):
    document["levels"][0]["bandwidth_gb_per_s"] = -3.5


@pytest.mark.parametrize("change, needle", [(_zero_bandwidth, "bandwidth_gb_per_s is 0, not above 0"),
                                            (_zero_peak, "peaks.f32.gflops_per_s is 0, not above 0"),
                                            (_negative_level, "levels[0].bandwidth_gb_per_s is -3.5, not above 0")],
                         ids=["bandwidth_zero", "peak_zero", "level_negative"])
def test_a_damaged_roofline_cache_is_named_before_anything_is_measured(change, needle, corpus, roofline_cache, tmp_path, monkeypatch,
                                                                        capfd):
    """A cached roofline with a bandwidth or a peak of 0 once divided by zero after the model was
    measured (exit 1): now profile and report name the cache file and the field, exit 2, before
    measuring, and the fix says how to measure it again."""
    from flopbench.profiling.roofline import cache_path

    document = roofline_cache["openvino"].to_dict()
    change(document)
    monkeypatch.setenv("FLOPBENCH_CACHE_DIR", str(tmp_path))
    cached = cache_path("openvino")
    cached.write_text(json.dumps(document))
    with pytest.raises(ResultFileError) as caught:
        profile(corpus.x, iterations=2)
    assert needle in caught.value.problem and str(cached) in caught.value.problem
    assert "--remeasure" in caught.value.fix
    for argv in (["profile", str(corpus.x), "-niter", "2"],
                 ["report", str(corpus.x), "-t", "0.02", "-niter", "2", "--profile-niter", "2", "-o", str(tmp_path / "r.html")]):
        assert main(argv) == 2
        line = _check_line(capfd.readouterr().err, needle)
        assert str(cached) in line and "measuring" not in line
    assert not (tmp_path / "r.html").exists()


def test_a_damaged_calibration_is_named_with_its_field(corpus, tmp_path, monkeypatch, capfd):
    """A calibration with a negative slope (or a roofline whose bandwidth is 0) would predict nothing
    sensible: predict names the file and the field, exit 2. A damaged measured point is named when
    the file is read whole (to resume or refit it); predict reads only the fits and still predicts."""
    from flopbench.errors import CalibrationError
    from flopbench.profiling.calibration import calibration_path, read_calibration, settings_key

    recorded = json.loads((REPO / "tests" / "data" / "calibration_openvino_f32.json").read_text())
    monkeypatch.setenv("FLOPBENCH_CACHE_DIR", str(tmp_path))
    cached = calibration_path("openvino", "CPU", settings_key("openvino", "CPU", "f32"), None, False)
    for change, needle in ((lambda d: d["fits"]["conv"].update(slope=-0.5), "fits.conv.slope is -0.5, below the minimum 0"),
                           (lambda d: d["roofline"].update(bandwidth_gb_per_s=0), "roofline.bandwidth_gb_per_s is 0, not above 0"),
                           (lambda d: d["points"][0].update(measured_us=-1), "points[0].measured_us is -1, below the minimum 0")):
        document = json.loads(json.dumps(recorded))
        change(document)
        cached.write_text(json.dumps(document))
        with pytest.raises(CalibrationError) as caught:
            read_calibration(cached)
        assert needle in caught.value.problem and str(cached) in caught.value.problem
        if needle.startswith("points"):
            assert main(["predict", str(corpus.x), "--precision", "f32", "--format", "json"]) == 0
            assert json.loads(capfd.readouterr().out)["predicted_latency_us"] > 0
            continue
        assert main(["predict", str(corpus.x), "--precision", "f32"]) == 2
        assert str(cached) in _check_line(capfd.readouterr().err, needle)


@pytest.mark.parametrize("fmt, needle", [("both", "cannot write mobilenet_v1.xml to"), ("onnx", "cannot write mobilenet_v1.onnx to")])
def test_zoo_on_a_full_disk_is_one_line_and_leaves_nothing(fmt, needle, tmp_path):
    """A disk that fills mid-write, made here by a file size limit (RLIMIT_FSIZE: the write fails
    with EFBIG, as with ENOSPC on a full disk): OpenVINO's serializer says only "basic_ios::clear"
    (exit 1 before); now exit 2, one error line naming the file and the folder, and no file left."""
    import resource

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    folder = tmp_path / "zoo"
    done = subprocess.run([sys.executable, "-m", "flopbench", "zoo", "mobilenet_v1", "--format", fmt, "-o", str(folder)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, preexec_fn=limited)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("flopbench: error:")]
    assert len(errors) == 1 and needle in errors[0] and "Traceback" not in done.stderr, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == []


def _raises_with_an_array(op):
    raise RuntimeError(f"cannot count {np.arange(200_000)}")  # numpy prints a summary; a list would be all of it


def _raises_with_a_list(op):
    raise ValueError(f"bad shapes {list(range(200_000))}")


def _returns_junk(op):
    return "junk"


def _returns_a_fraction(op):
    from flopbench.counting.formulas import Work

    return Work(macs=0, other_flops=-1.5)


@pytest.mark.parametrize("formula, needle", [
    (_raises_with_an_array, "the formula _raises_with_an_array given for Relu, on op '*/relu', raised RuntimeError: cannot count"),
    (_raises_with_a_list, "the formula _raises_with_a_list given for Relu, on op '*/relu', raised ValueError: bad shapes [0, 1, 2"),
    (_returns_junk, "the formula _returns_junk given for Relu, on op '*/relu', returned 'junk', not a Work of whole numbers"),
    (_returns_a_fraction, "returned Work(macs=0, other_flops=-1.5), not a Work of whole numbers"),
], ids=["raises_array", "raises_long_list", "returns_junk", "returns_negative_fraction"])
def test_a_callers_formula_that_fails_is_named_in_one_short_line(formula, needle, corpus):
    """count(model, formulas={...}) with a formula of the caller's that raises (any exception) or
    returns junk: a FormulaError naming the formula, its op type and the op, one line of at most a
    few hundred characters however long the formula's own message was (not exit 1, nor a note that
    hides it)."""
    from flopbench.errors import FormulaError

    with pytest.raises(FormulaError) as caught:
        flopbench.count(corpus.x, formulas={"Relu": formula})
    message = str(caught.value)
    op = re.search(r"on op '([^']*)'", message)
    assert op and op.group(1).endswith("relu"), message  # the first Relu counted, named
    assert needle.replace("*/relu", op.group(1)) in message and "\n" not in message and len(message) < 600, message


def test_a_sweep_whose_every_point_failed_exits_2(tmp_path, capfd):
    """A points file none of whose points can run (a device this machine lacks): the results file
    records each failure with its reason, and the command says none ran, exit 2, not 0."""
    points = tmp_path / "points.json"
    points.write_text(json.dumps([{"in_channels": 8, "out_channels": 8, "kernel": 3, "size": 8, "stride": 1, "engine": "openvino",
                                   "precision": "f32", "seconds": 0.05, "repeats": 1, "profile_iterations": 2,
                                   "device": "NO_SUCH_DEVICE"}]))
    folder = tmp_path / "sweep"
    assert main(["study", "sepconv", "--points", str(points), "-o", str(folder)]) == 2
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("flopbench: error:")]
    assert len(errors) == 1 and "none of the 1 point(s) ran" in errors[0] and "NO_SUCH_DEVICE" in errors[0], errors
    assert str(folder / "results.json") in errors[0]
    records = json.loads((folder / "results.json").read_text())["records"]
    assert [r["status"] for r in records] == ["failed"] and "NO_SUCH_DEVICE" in records[0]["reason"]


# --- pickles are never executed -----------------------------------------------------------------


def test_the_pickle_payload_is_live_but_never_run(corpus, tmp_path):
    """The payload does run when numpy is allowed to unpickle: so its absence below means something."""
    control_marker = tmp_path / "control"
    control = tmp_path / "control.npy"
    np.save(control, np.array([_OpenOnUnpickle(control_marker)], dtype=object), allow_pickle=True)
    np.load(control, allow_pickle=True)
    assert control_marker.exists()
    for path in (corpus.npy_object, corpus.npy_raw_pickle):
        with pytest.raises(InputDataError, match="holds Python objects"):
            read_npy(path)
        with pytest.raises(InputDataError, match="holds Python objects"):
            bench(corpus.x, inputs=[str(path)], policy=QUICK)
    assert not corpus.marker.exists()


# --- exit code 1: an internal error -------------------------------------------------------------


def test_internal_error_exits_1_with_the_debug_hint(corpus, monkeypatch, capfd):
    import flopbench.counting

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug\nwith a second line")

    monkeypatch.setattr(flopbench.counting, "count", broken)
    code = main(["flops", str(corpus.x)])
    captured = capfd.readouterr()
    assert code == 1
    line = _check_line(captured.err, "RuntimeError: simulated bug", prefix="flopbench: internal error: ")
    assert line.endswith("(re-run with --debug for the traceback)")
    with pytest.raises(RuntimeError, match="simulated bug"):  # --debug lets the traceback through
        main(["--debug", "flops", str(corpus.x)])


def test_out_of_memory_is_a_clean_error(corpus, monkeypatch, capfd):
    import flopbench.counting.ops

    def hungry(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(flopbench.counting, "count", hungry)
    assert main(["flops", str(corpus.x)]) == 2
    _check_line(capfd.readouterr().err, "out of memory")


def test_huge_inputs_are_refused_before_allocation(corpus):
    with pytest.raises(InputDataError, match="GiB of data"):
        run(corpus.onnx_dynamic, shape="x:64x1x8192x8192", niter=1)


# --- atomic outputs -----------------------------------------------------------------------------


def test_a_crash_mid_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "cost.json"
    target.write_text("old\n")

    def crash(fd):
        raise KeyboardInterrupt  # Ctrl-C or a kill between write and rename

    monkeypatch.setattr(atomic.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text_atomic(target, "new\n" * 1000)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cost.json"]


@pytest.mark.parametrize("where", ["write", "replace"])
def test_a_failing_disk_is_an_output_error_and_keeps_the_old_file(tmp_path, monkeypatch, where):
    target = tmp_path / "cost.json"
    target.write_text("old\n")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync" if where == "write" else "replace", full)
    with pytest.raises(OutputError, match="No space left on device"):
        atomic.write_text_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cost.json"]


def test_written_files_get_normal_permissions(tmp_path):
    old_umask = os.umask(0o022)
    try:
        fresh = atomic.write_text_atomic(tmp_path / "fresh.json", "{}")
        assert fresh.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
        kept = tmp_path / "kept.json"
        kept.write_text("old")
        kept.chmod(0o640)
        atomic.write_text_atomic(kept, "new")
        assert kept.stat().st_mode & 0o777 == 0o640 and kept.read_text() == "new"
    finally:
        os.umask(old_umask)


def test_bench_result_survives_a_failing_json_write(corpus, tmp_path, monkeypatch, capfd):
    """The --json folder was fine before the run; the write fails after it: the run is kept."""
    import tempfile

    def failing(path, text):
        raise OutputError(f"cannot write {path} (No space left on device)", "choose a folder you can write to")

    monkeypatch.setattr(atomic, "write_text_atomic", failing)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    target = tmp_path / "out" / "bench.json"
    target.parent.mkdir()
    code = main(["bench", str(corpus.x), "-t", "0.01", "-niter", "2", "--warmup", "0", "--json", str(target)])
    captured = capfd.readouterr()
    assert code == 2
    line = _check_line(captured.err, "the measurement was saved to")
    saved = Path(line.split("saved to ")[1].split(" instead")[0])
    assert saved.parent == tmp_path and '"schema": "flopbench/bench/1"' in saved.read_text()
    assert not target.exists()


@pytest.mark.parametrize("argv, needle", [
    (["demo", "-o", "{out}/demo", "-niter", "0"], "-niter 0"),
    (["demo", "-o", "{out}/demo", "-d", "NO_SUCH_DEVICE"], "NO_SUCH_DEVICE"),
    (["demo", "-o", "{file}"], "{file}"),
])
def test_demo_bad_input_is_one_line_and_writes_nothing(argv, needle, tmp_path, capfd):
    """The main job refuses what cannot work before it writes the model, in one line, exit 2."""
    out = tmp_path / "out"
    out.mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    fill = {"out": str(out), "file": str(blocker)}
    code = main([a.format(**fill) for a in argv])
    captured = capfd.readouterr()
    assert code == 2
    _check_line(captured.err, needle.format(**fill))
    _assert_nothing_written(out)
    assert blocker.read_text() == "not a folder"


# --- hostile names: data, never escapes, markup or math --------------------------------------------
# A layer name is whatever the model file says. It reaches a terminal, Markdown, CSV, a chart's
# labels and a page: it must arrive there as text, never as a terminal escape (a title change, a
# colour), rich markup, matplotlib math or HTML.

HOSTILE_NAMES = ("r\x1b]0;PWNED\x07\x1b[31mred", "[/bold]pw", "a$\\frac{$b", "<script>alert(1)</script>|x")
RAW_CONTROLS = ("\x1b", "\x07", "\x9b")


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory) -> Path:
    """Four convolutions in a chain, each named by one of HOSTILE_NAMES."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])
    weights = np.random.default_rng(0).random((4, 4, 3, 3), dtype=np.float32)
    nodes, initializers, previous = [], [], "x"
    for index, name in enumerate(HOSTILE_NAMES):
        output = f"t{index}"
        initializers.append(helper.make_tensor(f"w{index}", TensorProto.FLOAT, weights.shape, weights.tobytes(), raw=True))
        nodes.append(helper.make_node("Conv", [previous, f"w{index}"], [output], name=name, pads=[1, 1, 1, 1]))
        previous = output
    nodes.append(helper.make_node("Sigmoid", [previous], ["y"], name="last"))  # the graph's output takes its node's name
    path = tmp_path_factory.mktemp("hostile") / "hostile.onnx"
    onnx.save(_onnx_model(nodes, [x], [y], initializers), str(path))
    return path


HOSTILE_COMMANDS = {  # id: (argv after the model, the file it writes or None, the format of what it prints or writes)
    "flops_table": (["flops", "{model}"], None, "table"),
    "flops_markdown": (["flops", "{model}", "--format", "markdown"], None, "markdown"),
    "flops_csv": (["flops", "{model}", "--format", "csv"], None, "csv"),
    "flops_markdown_file": (["flops", "{model}", "-o", "{out}/cost.md"], "cost.md", "markdown"),
    "flops_json_file": (["flops", "{model}", "-o", "{out}/cost.json"], "cost.json", "json"),
    "profile_table": (["profile", "{model}", "-niter", "2", "--warmup", "0"], None, "table"),
    "profile_markdown_file": (["profile", "{model}", "-niter", "2", "--warmup", "0", "-o", "{out}/p.md"], "p.md", "markdown"),
    "profile_csv_onnxruntime": (["profile", "{model}", "--engine", "onnxruntime", "-niter", "2", "--warmup", "0", "--format", "csv"],
                                None, "csv"),
    "convert_listing": (["convert", "{model}", "--to", "separable", "-o", "{out}/sep.onnx"], None, "text"),
    "report_page": (["report", "{model}", "-t", "0.02", "-niter", "2", "--warmup", "0", "--profile-niter", "2", "-o", "{out}/r.html"],
                    "r.html", "html"),
}


@pytest.mark.parametrize("case_id", list(HOSTILE_COMMANDS))
def test_hostile_names_are_shown_as_text(case_id, hostile_model, tmp_path, capfd):
    argv, written, fmt = HOSTILE_COMMANDS[case_id]
    code = main([a.format(model=hostile_model, out=tmp_path) for a in argv])
    captured = capfd.readouterr()
    assert code == 0, captured.err
    text = (tmp_path / written).read_text() if written else captured.out
    # a page too: its text shows a control character as its escape, never carries it raw
    for output in (captured.out, captured.err, text):
        assert not any(c in output for c in RAW_CONTROLS), repr(output[:2000])
    if fmt == "json":
        layers = json.loads(text)["layers"]
        assert [layer["name"] for layer in layers][:len(HOSTILE_NAMES)] == list(HOSTILE_NAMES)  # the data itself is exact
        return
    if fmt == "html":
        assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "r\\x1b]0;PWNED\\x07" in text
        return
    assert "r\\x1b]0;PWNED\\x07" in text  # shown, as its escapes (a narrow table column folds the rest of the name)
    assert "[/bold]pw" in text and "a$\\frac{$b" in text
    if fmt == "markdown":
        assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;\\|x" in text


# --- two runs, one output -------------------------------------------------------------------------


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)


def test_a_second_run_on_the_same_output_is_refused_while_the_first_holds_it(corpus, tmp_path):
    """A bench writing results.json holds it from its check to its end: a second bench, or a study
    whose folder holds that results.json, says who holds it (exit 2) and measures nothing."""
    target = tmp_path / "results.json"
    first = subprocess.Popen([sys.executable, "-m", "flopbench", "bench", str(corpus.x), "-t", "120", "--json", str(target)],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(tmp_path / ".results.json.lock", first)
        for argv in (["bench", str(corpus.x), "-t", "0.01", "--json", str(target)],
                     ["study", "sepconv", "--quick", "-o", str(tmp_path), "--format", "json"]):
            second = subprocess.run([sys.executable, "-m", "flopbench", *argv], capture_output=True, text=True, cwd=REPO, timeout=120)
            assert second.returncode == 2, second.stderr
            _check_line(second.stderr, f"results.json is being written by another flopbench run (pid {first.pid}")
            assert "measuring" not in second.stderr
        assert first.poll() is None  # both were refused while the first still measured
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=120)
        assert first.returncode == 130, stderr
    finally:
        first.kill()
    assert json.loads(target.read_text())["schema"] == "flopbench/bench/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # the lock went with its run


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_after_the_outputs_are_written_is_no_signal_death(signum, corpus, tmp_path):
    """Sent the moment the command says it wrote its file (its last words): the exit code is the
    command's own, or 130, never a death by the signal, and the file is whole."""
    for attempt in range(3):
        out = tmp_path / f"cost{attempt}.json"
        process = subprocess.Popen([sys.executable, "-m", "flopbench", "flops", str(corpus.x), "-o", str(out)], cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = process.stderr.readline()
        assert line.startswith("wrote "), line
        process.send_signal(signum)
        process.communicate(timeout=60)
        assert process.returncode in (0, 130), process.returncode
        assert json.loads(out.read_text())["schema"] == "flopbench/count/1"


def test_engines_given_as_one_name_in_the_api(corpus):
    """bench(model, engines="openvino"): one engine named by a string, not its letters."""
    report = bench(corpus.x, engines="openvino", policy=QUICK)
    assert [r.settings.engine for r in report.results] == ["openvino"]


def test_a_page_that_fails_to_render_after_measuring_keeps_the_measurements(corpus, tmp_path, monkeypatch, capfd):
    """The page's renderer fails (a bug) after report counted, benched and profiled: the measured
    results are written as JSON beside the page, and the error says where and how to render them."""
    import flopbench.render.report as report_page

    def failing(content):
        raise ValueError("a renderer bug")

    monkeypatch.setattr(report_page, "render_report", failing)
    page = tmp_path / "page.html"
    code = main(["report", str(corpus.o), "-t", "0.02", "-niter", "2", "--warmup", "0", "--profile-niter", "2", "-o", str(page)])
    captured = capfd.readouterr()
    assert code == 1 and not page.exists()
    saved_line = next(line for line in captured.err.splitlines() if "the measurements were saved" in line)
    kept = sorted(tmp_path.glob("page.html.measured-*/*.json"))
    assert [p.name for p in kept] == ["bench.json", "count.json", "profile-openvino.json"], captured.err
    assert all(str(p) in saved_line for p in kept)
    assert isinstance(flopbench.load_result(kept[1]), flopbench.ModelCost) and flopbench.load_result(kept[0]).results
    assert "internal error: ValueError: a renderer bug" in captured.err


def test_the_merge_refusal_names_only_what_exists():
    """Two machines' results refused as one series: the fix names a command and a keyword that
    exist, not a flag no command accepts."""
    from flopbench.results.documents import check_mergeable

    with pytest.raises(ResultFileError) as caught:
        check_mergeable([{"cpu": "A", "cpu_count": 2}, {"cpu": "B", "cpu_count": 2}])
    assert "--allow-different-machines" not in str(caught.value)
    assert "flopbench compare" in caught.value.fix and "allow_different_machines=True" in caught.value.fix


# --- nothing temporary outlives the command (#25 item 13) -----------------------------------------

def _ort_profile(model: Path, tmpdir: Path, iterations: int) -> subprocess.Popen:
    """`flopbench profile MODEL --engine onnxruntime` with its temporary folder in `tmpdir`."""
    return subprocess.Popen([sys.executable, "-m", "flopbench", "profile", str(model), "--engine", "onnxruntime", "-niter",
                             str(iterations), "--warmup", "1"], cwd=REPO, env={**os.environ, "TMPDIR": str(tmpdir)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _ours(tmpdir: Path) -> list[str]:
    return sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("flopbench"))


def _once_profiling(process: subprocess.Popen, tmpdir: Path) -> None:
    """Wait until the profile's session is open: its folder (the trace, the optimized graph) exists."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not list(tmpdir.glob("flopbench-ort-*/optimized.onnx")):
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()


def test_an_onnxruntime_profile_leaves_nothing_in_the_temporary_folder(corpus, roofline_cache, tmp_path):
    """ONNX Runtime's profile writes its trace and the optimized graph into a folder of its own:
    gone when the command ends, after a whole run and after SIGTERM mid-profile. SIGKILL cannot be
    caught: what the killed run left, the next run removes (its folder's lock died with it). (A
    library's own session-id file, .ses, is not flopbench's to remove.)"""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    done = _ort_profile(corpus.o, tmpdir, 20)
    _, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    assert _ours(tmpdir) == []

    stopped = _ort_profile(corpus.o, tmpdir, 10**6)
    _once_profiling(stopped, tmpdir)
    stopped.send_signal(signal.SIGTERM)
    _, stderr = stopped.communicate(timeout=120)
    assert stopped.returncode in (130, 143), stderr
    assert _ours(tmpdir) == []

    killed = _ort_profile(corpus.o, tmpdir, 10**6)
    _once_profiling(killed, tmpdir)
    killed.kill()
    killed.communicate(timeout=60)
    assert [name[:14] for name in _ours(tmpdir)] == ["flopbench-ort-"]
    again = _ort_profile(corpus.o, tmpdir, 20)
    _, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert _ours(tmpdir) == []
