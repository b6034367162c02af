"""Real outputs validate against the shipped, versioned JSON schemas."""
import json
import subprocess
import sys

import jsonschema
import pytest

from flopbench.results.schema import load_schema, validate


def test_count_json_validates(sep_cnn_onnx, tmp_path):
    target = tmp_path / "count.json"
    subprocess.run([sys.executable, "-m", "flopbench", "flops", str(sep_cnn_onnx), "--format", "json", "-o", str(target)], check=True, timeout=120)
    validate(json.loads(target.read_text()))


def test_bench_json_validates_and_rejects_tampering(sep_cnn_onnx, tmp_path):
    target = tmp_path / "bench.json"
    subprocess.run([sys.executable, "-m", "flopbench", "bench", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime",
                    "-t", "0.2", "-niter", "5", "--json", str(target), "--save-latencies"], check=True, timeout=120, capture_output=True)
    document = json.loads(target.read_text())
    validate(document)
    document["results"][0]["mode"] = "fast"
    with pytest.raises(jsonschema.ValidationError):
        validate(document)


def test_run_json_validates(sep_cnn_xml, image_npy, tmp_path):
    target = tmp_path / "run.json"
    subprocess.run([sys.executable, "-m", "flopbench", "run", str(sep_cnn_xml), "-i", str(image_npy), "--json", str(target)],
                   check=True, timeout=120, capture_output=True)
    document = json.loads(target.read_text())
    validate(document)
    assert document["iterations"] == 10 and document["top_class"] == 1


def test_schemas_are_shipped_and_versioned():
    for kind in ("count", "bench", "run"):
        schema = load_schema(kind)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == f"flopbench/{kind}/1"


# ---- the loader's own check agrees with jsonschema -------------------------------------------------

def _leaves(node, path=()):
    """Every (path, value) of a JSON document, inner objects and arrays included."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))


MUTATIONS = (-1, 0, -0.5, 2.5, "x", None, True, [], {}, "delete")


def _mutated(document, path, value):
    import copy

    changed = copy.deepcopy(document)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    if value == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return changed


@pytest.fixture(scope="module")
def real_documents(sep_cnn_xml):
    """Real documents of several kinds: a count, a bench with its latencies, and the recorded
    calibration with its roofline (the machine kind)."""
    from pathlib import Path

    import flopbench
    from flopbench.measure.policy import RunPolicy

    calibration = json.loads((Path(__file__).parent / "data" / "calibration_openvino_f32.json").read_text())
    measured = flopbench.bench(sep_cnn_xml, policy=RunPolicy(warmup_iterations=0, min_duration_s=0.01, min_iterations=3))
    return {"count": flopbench.count(sep_cnn_xml).to_dict(), "bench": measured.to_dict(save_latencies=True),
            "machine": calibration["roofline"], "calibration": calibration}


@pytest.mark.parametrize("kind", ["count", "bench", "machine", "calibration"])
def test_the_loaders_check_agrees_with_jsonschema(kind, real_documents):
    """results/schema.check (what load_result runs on every document) against jsonschema, the
    independent truth: the real document passes both; each of 400 single-field changes (a value
    made negative, zero, fractional, a string, null, a boolean, an array, an object, or removed)
    is refused by one exactly when it is refused by the other, and the refusal names a field on
    the changed one's path."""
    import random

    from flopbench.results.schema import Mismatch, check

    document = real_documents[kind]
    validator = jsonschema.Draft202012Validator(load_schema(kind))
    assert validator.is_valid(document)
    check(document, kind)
    leaves = [path for path, _ in _leaves(document) if path]
    rng = random.Random(kind)
    refused = 0
    for _ in range(400):
        path = rng.choice(leaves)
        value = rng.choice(MUTATIONS)
        changed = _mutated(document, path, value)
        truth = validator.is_valid(changed)
        try:
            check(changed, kind)
            verdict = True
        except Mismatch as exc:
            verdict = False
            refused += 1
            named = exc.steps  # the refused field lies on the changed one's path, above it or below it
            assert list(path[:len(named)]) == named or named[:len(path)] == list(path), (path, exc)
        assert verdict == truth, (path, value, truth)
    assert refused > 50  # the changes do reach fields the schema bounds


def test_every_count_and_name_of_a_count_is_checked(real_documents):
    """The check takes a count's integers, names, flags and nulls in its own loops (no call per
    value): every integer of a real count document made 2**63, every string, flag and null made a
    number or a string, each refused as jsonschema and the sanity bound say, naming exactly the
    changed field."""
    from flopbench.results.schema import Mismatch, check

    document = real_documents["count"]
    validator = jsonschema.Draft202012Validator(load_schema("count"))
    changes = 0
    for path, value in _leaves(document):
        if not path or type(value) not in (int, str, bool, type(None)) or path == ("schema",):
            continue
        for bad in ((2 ** 63, -(2 ** 63)) if type(value) is int else (5, "x", 2 ** 63)):
            changed = _mutated(document, path, bad)
            truth = validator.is_valid(changed) and bad not in (2 ** 63, -(2 ** 63))
            try:
                check(changed, "count")
            except Mismatch as exc:
                assert not truth, (path, bad)
                assert exc.steps == list(path), (path, exc)
            else:
                assert truth, (path, bad)
            changes += 1
    assert changes > 200


@pytest.mark.parametrize("kind", ["count", "bench", "machine", "calibration"])
def test_the_quick_walk_accepts_a_sound_document_and_never_what_the_check_refuses(kind, real_documents):
    """check() first walks a document with the schema written out as Python, which only says
    whether the document is surely sound; anything it does not accept goes to the full check. A
    real document is accepted by that walk alone (the one walk of a sound count), and none of
    600 single-field changes (the mutations above, 3.0 for an integer, 2**63, a key added) is
    accepted by it when the full check refuses it."""
    import copy
    import random

    from flopbench.results.schema import Mismatch, _accepter, _compiled

    document = real_documents[kind]
    assert _accepter(kind)(document)
    leaves = [path for path, _ in _leaves(document) if path]
    rng = random.Random(f"quick {kind}")
    accepted = refused = 0
    for _ in range(600):
        path = rng.choice(leaves)
        value = rng.choice((*MUTATIONS, 3.0, 2 ** 63, -(2 ** 63), [1, -1], {"a": -1}, "added"))
        if value == "added":  # a key the schema does not name, beside the chosen one
            changed = copy.deepcopy(document)
            parent = changed
            for step in path[:-1]:
                parent = parent[step]
            if isinstance(parent, dict):
                parent["not_in_the_schema"] = rng.choice((-1, 2 ** 63, "x"))
        else:
            changed = _mutated(document, path, value)
        try:
            _compiled(kind)(changed)
            sound = True
        except Mismatch:
            sound = False
        if _accepter(kind)(changed):
            accepted += 1
            assert sound, (path, value)
        refused += not sound
    assert accepted > 50 and refused > 50
