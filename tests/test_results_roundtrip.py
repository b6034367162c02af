"""Every kind of result flopbench writes loads back: each is made for real (a zoo model, a real
engine run where the kind needs one), written by the CLI or `save_result`, read with
`flopbench.load_result`, and found equal to what was made and to what was written, byte for byte.
The JSON Schemas shipped in the package describe exactly what each kind's dataclass writes."""
from __future__ import annotations

import dataclasses
import json
import typing

import pytest

import flopbench
from flopbench.cli.main import main
from flopbench.results import codec, kinds
from flopbench.results.schema import load_schema, validate

QUICK = ["-t", "0.05", "-niter", "3", "--warmup", "1"]


def _loads_back(path, **options):
    """The result in `path`, checked to re-encode to exactly the bytes of the document written."""
    document = json.loads(path.read_text())
    validate(document)
    loaded = flopbench.load_result(path)
    assert json.dumps(loaded.to_dict(**options)) == json.dumps(document)
    return loaded


def _saved_and_loaded(result, path):
    flopbench.save_result(result, path)
    loaded = _loads_back(path)
    assert loaded == result
    flopbench.save_result(loaded, path.with_name("again.json"))
    assert path.with_name("again.json").read_bytes() == path.read_bytes()
    return loaded


def test_every_kind_is_found_and_registered():
    assert set(kinds.all_kinds()) == {"count", "bench", "run", "profile", "machine", "compare", "convert", "quantize", "study", "fleet",
                                      "predict", "paper"}
    assert {kind.schema for kind in kinds.all_kinds().values()} == {load_schema(name)["$id"] for name in kinds.all_kinds()}


def test_count(sep_cnn_xml, tmp_path):
    made = flopbench.count(sep_cnn_xml)
    loaded = _saved_and_loaded(made, tmp_path / "count.json")
    assert loaded.layer("conv2/depthwise").ops == made.layer("conv2/depthwise").ops
    assert loaded.metadata["measured_at"] == made.metadata["measured_at"]  # stamped when counted, not when written
    assert main(["flops", str(sep_cnn_xml), "-o", str(tmp_path / "cli.json")]) == 0
    assert _loads_back(tmp_path / "cli.json") == made


def test_bench(sep_cnn_onnx, tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime", *QUICK, "--json", str(out), "--save-latencies"]) == 0
    loaded = _loads_back(out, save_latencies=True)
    assert [r.latencies["call"].dtype for r in loaded.results] == ["int64", "int64"]
    # written before the median's bound had a key of its own: read from where it was, median.bound_ns
    older = json.loads(out.read_text())
    for result in older["results"]:
        for stats in (result["call_latency"], result["engine_latency"]):
            if stats:
                assert stats.pop("median_bound_ns") == stats["median"]["bound_ns"]
    (tmp_path / "older.json").write_text(json.dumps(older))
    assert flopbench.load_result(tmp_path / "older.json") == loaded
    _saved_and_loaded(loaded, tmp_path / "saved.json")


def test_run(sep_cnn_xml, image_npy, tmp_path):
    from flopbench.measure.run import run

    made = run(sep_cnn_xml, inputs=[str(image_npy)], niter=3)
    assert _saved_and_loaded(made, tmp_path / "run.json").top_class == made.top_class == 1
    assert main(["run", str(sep_cnn_xml), "-i", str(image_npy), "-niter", "2", "--json", str(tmp_path / "cli.json")]) == 0
    assert _loads_back(tmp_path / "cli.json").iterations == 2


def test_profile_and_machine(sep_cnn_xml, tmp_path, roofline_cache):
    from flopbench.profiling.roofline import cached_roofline
    from flopbench.profiling.profile import profile

    made = profile(sep_cnn_xml, iterations=5, warmup=1, roofline=roofline_cache["openvino"])
    loaded = _saved_and_loaded(made, tmp_path / "profile.json")
    assert loaded.roofline == roofline_cache["openvino"] and loaded.layers == made.layers
    assert main(["profile", str(sep_cnn_xml), "-niter", "5", "-o", str(tmp_path / "cli.json")]) == 0
    _loads_back(tmp_path / "cli.json")
    _saved_and_loaded(roofline_cache["onnxruntime"], tmp_path / "machine.json")
    assert main(["machine", "--quick", "-o", str(tmp_path / "machine-cli.json")]) == 0
    assert _loads_back(tmp_path / "machine-cli.json") == cached_roofline("openvino", quick=True)  # the cached measurement


def test_predict(sep_cnn_xml, tmp_path):
    from pathlib import Path

    from flopbench.profiling.calibration import read_calibration
    from flopbench.profiling.predict import predict

    calibration = read_calibration(Path(__file__).parent / "data" / "calibration_openvino_f32.json")
    made = predict(sep_cnn_xml, engine="openvino", precision="f32", calibration=calibration)
    loaded = _saved_and_loaded(made, tmp_path / "predict.json")
    assert loaded.predicted_latency_us == made.predicted_latency_us > 0 and len(loaded.layers) == len(made.layers)


def test_compare(zoo_dir, tmp_path):
    out = tmp_path / "compare.json"
    assert main(["compare", str(zoo_dir / "sep_cnn.onnx"), str(zoo_dir / "std_cnn.onnx"), "--engine", "openvino", *QUICK,
                 "-o", str(out)]) == 0
    loaded = _loads_back(out)
    assert loaded.row("macs").values == (flopbench.count(zoo_dir / "sep_cnn.onnx").macs, flopbench.count(zoo_dir / "std_cnn.onnx").macs)
    _saved_and_loaded(loaded, tmp_path / "saved.json")


def test_convert(zoo_dir, tmp_path):
    out = tmp_path / "convert.json"
    assert main(["convert", "--to", "separable", str(zoo_dir / "std_cnn.xml"), "-o", str(tmp_path / "sep.xml"), "--json", str(out)]) == 0
    loaded = _loads_back(out)
    assert loaded.to == "separable" and loaded.rewrites and loaded.written
    _saved_and_loaded(loaded, tmp_path / "saved.json")


def test_quantize(quantized_twin, tmp_path):
    _, report, _ = quantized_twin
    loaded = _loads_back(report)
    assert loaded.integer_macs == loaded.macs == flopbench.count(loaded.xml).integer_macs
    _saved_and_loaded(loaded, tmp_path / "saved.json")


def test_study(tmp_path):
    from flopbench.study.sweep import run_sweep

    point = {"in_channels": 8, "out_channels": 8, "kernel": 3, "size": 8, "stride": 1, "engine": "openvino", "precision": "f32",
             "seconds": 0.02, "repeats": 1, "profile_iterations": 3}
    made = run_sweep([point], tmp_path)
    loaded = _loads_back(tmp_path / "results.json")
    assert loaded.records == made.records and loaded.complete and loaded.points == made.points
    _saved_and_loaded(loaded, tmp_path / "saved.json")


# fleet: tests/test_fleet.py::test_the_fleet_file_loads_back, on the Ray cluster that file starts anyway


@pytest.mark.parametrize("schema, needle", [
    ("flopbench/count/2", "schema flopbench/count/2 was written by a newer flopbench; this one reads count up to version 1"),
    ("flopbench/count/0", "schema flopbench/count/0 is an older count document that this flopbench no longer reads"),
    ("flopbench/forecast/1", "schema flopbench/forecast/1, which this flopbench cannot read"),
])
def test_an_unknown_version_is_refused_by_name(sep_cnn_xml, tmp_path, capsys, schema, needle):
    document = flopbench.count(sep_cnn_xml).to_dict()
    path = tmp_path / "count.json"
    path.write_text(json.dumps({**document, "schema": schema}))
    assert main(["report", str(path), "-o", str(tmp_path / "page.html")]) == 2
    error = capsys.readouterr().err.strip()
    assert needle in error and len(error.splitlines()) == 1


def test_an_older_version_is_read_in_todays_words(tmp_path):
    """flopbench/study/1 said "ok" for a point measured, where the fleet says "done": read today, it is done."""
    from flopbench.study.sweep import run_sweep

    point = {"in_channels": 8, "out_channels": 8, "kernel": 3, "size": 8, "stride": 1, "engine": "openvino", "precision": "f32",
             "seconds": 0.02, "repeats": 1, "profile_iterations": 2}
    made = run_sweep([point], tmp_path)
    older = json.loads((tmp_path / "results.json").read_text())
    assert older["schema"] == "flopbench/study/2" and older["records"][0]["status"] == "done"
    older["schema"] = "flopbench/study/1"
    older["records"][0]["status"] = "ok"
    (tmp_path / "results.json").write_text(json.dumps(older))
    loaded = flopbench.load_result(tmp_path / "results.json")
    assert loaded.records == made.records and loaded.records[0].status == "done" and loaded.complete
    again = run_sweep([point], tmp_path, runner=lambda p: pytest.fail("a point done before is measured again"))
    assert again.skipped == (made.records[0].key,)


def test_a_sweep_written_by_an_older_flopbench_loads_record_for_record():
    """The sweep shipped with the docs (flopbench/study/1, written before the parts' roofline was
    recorded) loads; each typed record writes back the JSON it was read from, in today's status word."""
    from pathlib import Path

    from flopbench.study.summary import summarize

    path = Path(__file__).resolve().parent.parent / "docs" / "sepconv-study" / "results.json"
    document = json.loads(path.read_text())
    assert document["schema"] == "flopbench/study/1"
    loaded = flopbench.load_result(path)
    written = loaded.to_dict()["records"]
    assert len(written) == len(document["records"]) > 0
    for before, after in zip(document["records"], written):
        assert before["status"] in ("ok", "failed")
        assert json.dumps({**before, "status": "done" if before["status"] == "ok" else "failed"}) == json.dumps(after)
    depthwise = [r.parts.depthwise.share for r in loaded.records if r.status == "done" and r.parts.depthwise]
    assert len(depthwise) == sum(1 for r in document["records"] if (r.get("parts") or {}).get("depthwise"))
    assert sum(s.points for s in summarize(loaded.records)) == len(document["records"])


def test_a_kind_is_declared_once():
    from flopbench.counting.cost import ModelCost

    with pytest.raises(ValueError, match="already registered"):
        @codec.result_kind("count", version=1)
        @dataclasses.dataclass(frozen=True)
        class Another:
            model: str
    assert codec.registered_kinds()["count"].cls is ModelCost


# ---- the schemas describe what the dataclasses write -------------------------------------------

def _resolve(schema: dict, node: dict) -> dict | None:
    """The object schema a property stands for (through $ref, array items and null alternatives)."""
    for _ in range(10):
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].split("/")[-1]]
        elif "items" in node and isinstance(node["items"], dict):
            node = node["items"]
        elif "oneOf" in node or "anyOf" in node:
            options = [o for o in node.get("oneOf", node.get("anyOf")) if o.get("type") != "null"]
            if len(options) != 1:
                return None
            node = options[0]
        elif "additionalProperties" in node and isinstance(node["additionalProperties"], dict) and "properties" not in node:
            node = node["additionalProperties"]
        else:
            return node if "properties" in node else None
    return None


def _held_class(hint) -> type | None:
    """The dataclass a field holds (itself, or as the members of a tuple, list or dict, or optional)."""
    if dataclasses.is_dataclass(hint):
        return hint
    members = [_held_class(arg) for arg in typing.get_args(hint) if arg is not type(None) and arg is not Ellipsis]
    members = [m for m in members if m is not None]
    return members[-1] if len(members) == 1 or (members and all(m is members[0] for m in members)) else None


def _mismatches(cls: type, schema: dict, node: dict, where: str, seen: set | None = None) -> list[str]:
    seen = set() if seen is None else seen
    if (cls, id(node)) in seen:  # a class that holds itself (a layer's parts) under a schema that refers to itself
        return []
    seen.add((cls, id(node)))
    written = codec.written_keys(cls)
    described = set(node["properties"]) - {"schema"}
    extra = set(codec.extra_keys(cls)) if codec.is_result_kind(cls) else set()
    found = [f"{where}: {key!r} is written by {cls.__name__} but not described" for key in sorted(written - described)]
    if not codec.has_open_keys(cls):
        found += [f"{where}: {key!r} is described but {cls.__name__} has no such field" for key in sorted(described - written - extra)]
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        key = codec.key_of(cls, field.name)
        held = _held_class(hints[field.name])
        # a result kind held by another (a profile's roofline) is checked against its own schema
        if held is None or key not in node["properties"] or codec.field_is_reference(cls, field.name) or codec.is_result_kind(held):
            continue
        inner = _resolve(schema, node["properties"][key])
        if inner is not None:
            found += _mismatches(held, schema, inner, f"{where}.{key}", seen)
    return found


@pytest.mark.parametrize("name", sorted(kinds.kind_modules()))
def test_the_schema_describes_every_field_and_no_other(name):
    kind = kinds.kind(name)
    schema = load_schema(name)
    assert schema["$id"] == kind.schema and schema["properties"]["schema"] == {"const": kind.schema}
    assert _mismatches(kind.cls, schema, schema, name) == []
