"""The weight-free ONNX twin: same graph and shapes as the file, without the large weights."""
from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import onnx
import openvino as ov
import pytest
from onnx import TensorProto, helper, numpy_helper

from flopbench.errors import ModelFileError
from flopbench.model.onnx_twin import KEEP_MAX_ELEMENTS, WeightlessTwin, weightless_twin

OPSET = [helper.make_opsetid("", 17)]


def _init(name: str, shape, dtype=np.float32, value=None) -> TensorProto:
    array = np.asarray(value, dtype=dtype) if value is not None else np.random.default_rng(0).standard_normal(shape).astype(dtype)
    return numpy_helper.from_array(array, name)


def _cnn() -> onnx.ModelProto:
    """Resize (small float scales) -> Conv+bias -> Relu -> MaxPool -> Conv+bias -> MaxPool ->
    Reshape (int64 shape) -> Gemm (transB) -> Relu -> MatMul -> Add -> Softmax."""
    nodes = [
        helper.make_node("Resize", ["x", "", "scales"], ["up"], mode="nearest"),
        helper.make_node("Conv", ["up", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("MaxPool", ["c2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2], name="pool2"),
        helper.make_node("Reshape", ["p2", "shape"], ["flat"], name="reshape"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["fc"], transB=1, name="fc"),
        helper.make_node("Relu", ["fc"], ["r2"], name="relu2"),
        helper.make_node("MatMul", ["r2", "mm_w"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "mm_b"], ["logits"], name="add"),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1, name="softmax"),
    ]
    inits = [
        _init("scales", None, value=[1, 1, 2, 2]),
        _init("w1", (64, 3, 3, 3)), _init("b1", (64,)),
        _init("w2", (32, 64, 3, 3)), _init("b2", (32,)),
        _init("shape", None, np.int64, [1, -1]),
        _init("fc_w", (100, 2048)), _init("fc_b", (100,)),
        _init("mm_w", (100, 1500)), _init("mm_b", (1500,)),
    ]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1500])], inits)
    return helper.make_model(graph, opset_imports=OPSET)


CNN_REMOVED = {"w1": (64, 3, 3, 3), "w2": (32, 64, 3, 3), "fc_w": (100, 2048), "mm_w": (100, 1500), "mm_b": (1500,)}


def _old_style() -> onnx.ModelProto:
    """IR version 3: every initializer is also a graph input. Flatten -> Gemm -> Gemm."""
    w1, b1, w2 = _init("W1", (200, 48)), _init("B1", (200,)), _init("W2", (200, 10))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 4])]
    inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in (w1, b1, w2)]
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["f", "W1", "B1"], ["h"], transB=1, name="gemm1"),
        helper.make_node("Gemm", ["h", "W2"], ["y"], name="gemm2"),
    ]
    graph = helper.make_graph(nodes, "old", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w1, b1, w2])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], ir_version=3)


def _constant_nodes() -> onnx.ModelProto:
    """Weights stored as Constant nodes instead of initializers, one of them float16."""
    nodes = [
        helper.make_node("Constant", [], ["w"], value=_init("w_value", (16, 8, 3, 3)), name="const_w"),
        helper.make_node("Constant", [], ["axes"], value=_init("axes_value", None, np.int64, [0]), name="const_axes"),
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Constant", [], ["w16"], value=_init("w16_value", (16, 200), np.float16), name="const_w16"),
        helper.make_node("ReduceSum", ["c", "axes"], ["m"], keepdims=0, name="sum"),
        helper.make_node("Cast", ["m"], ["m16"], to=TensorProto.FLOAT16, name="cast"),
        helper.make_node("Reshape", ["m16", "two_d"], ["m2"], name="reshape"),
        helper.make_node("MatMul", ["m2", "w16"], ["y"], name="matmul"),
    ]
    inits = [_init("two_d", None, np.int64, [-1, 16])]
    graph = helper.make_graph(nodes, "const", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8, 10, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)], inits)
    return helper.make_model(graph, opset_imports=OPSET)


def _save(model: onnx.ModelProto, path: Path, **kwargs) -> Path:
    onnx.save_model(model, str(path), **kwargs)
    return path


_AUTO_NAME = re.compile(r"[A-Z][A-Za-z0-9]*_\d+")  # names OpenVINO makes up, numbered by a global counter


def _ops(model) -> list[tuple[str, str, tuple[str, ...]]]:
    """(type, friendly name, output shapes) of every op; made-up names lose their number."""
    result = []
    for op in model.get_ordered_ops():
        name = op.get_friendly_name()
        if _AUTO_NAME.fullmatch(name):
            name = name.rsplit("_", 1)[0] + "_#"
        result.append((op.get_type_name(), name, tuple(str(o.get_partial_shape()) for o in op.outputs())))
    return result


def _assert_same_shapes(path: Path, twin: WeightlessTwin, renamed: dict[str, str] | None = None) -> None:
    """OpenVINO reads the twin as it reads the file: the same ops with the same output shapes,
    except that each removed weight is a Parameter instead of a Constant. `renamed` maps a
    Constant node's name to its output's name, which names the Parameter that replaces it."""
    core = ov.Core()
    full, light = _ops(core.read_model(str(path))), _ops(core.read_model(twin.model_bytes))
    full = [(kind, (renamed or {}).get(name, name), shapes) for kind, name, shapes in full]
    expected = sorted(("Parameter", name, shapes) if kind == "Constant" and name in twin.weight_inputs else (kind, name, shapes)
                      for kind, name, shapes in full)
    assert sorted(light) == expected
    weights = {name: shapes for kind, name, shapes in light if kind == "Parameter" and name in twin.weight_inputs}
    assert weights == {name: (str(ov.PartialShape(list(dims))),) for name, dims in twin.weight_inputs.items()}


def _graph(twin: WeightlessTwin) -> onnx.GraphProto:
    return onnx.load_from_string(twin.model_bytes).graph


def test_cnn_twin_has_the_same_shapes_without_the_weights(tmp_path):
    path = _save(_cnn(), tmp_path / "cnn.onnx")
    twin = weightless_twin(path)
    assert twin.weight_inputs == CNN_REMOVED
    assert twin.weight_dtypes == {name: "float32" for name in CNN_REMOVED}
    assert twin.external_files == ()
    graph = _graph(twin)
    assert sorted(t.name for t in graph.initializer) == ["b1", "b2", "fc_b", "scales", "shape"]
    assert [i.name for i in graph.input] == ["x", *CNN_REMOVED]
    for value_info in graph.input[1:]:
        assert tuple(d.dim_value for d in value_info.type.tensor_type.shape.dim) == CNN_REMOVED[value_info.name]
        assert value_info.type.tensor_type.elem_type == TensorProto.FLOAT
    onnx.checker.check_model(onnx.load_from_string(twin.model_bytes), full_check=True)
    weights = sum(int(np.prod(d)) * 4 for d in CNN_REMOVED.values())
    assert len(twin.model_bytes) < path.stat().st_size - weights + 1024
    _assert_same_shapes(path, twin)
    model = ov.Core().read_model(twin.model_bytes)
    constants = {op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "Constant"}
    assert {"shape", "scales"} <= constants  # values needed for shapes stay constants


def test_everything_but_the_graph_is_copied_byte_for_byte(tmp_path):
    model = _cnn()
    model.producer_name, model.doc_string, model.model_version = "tests", "a doc", 7
    helper.set_model_props(model, {"k": "v"})
    path = _save(model, tmp_path / "m.onnx")
    twin = onnx.load_from_string(weightless_twin(path).model_bytes)
    original = onnx.load(str(path))
    for field in ("ir_version", "producer_name", "doc_string", "model_version", "opset_import", "metadata_props"):
        assert getattr(twin, field) == getattr(original, field), field
    assert list(twin.graph.node) == list(original.graph.node)
    assert list(twin.graph.output) == list(original.graph.output)


def test_old_style_initializers_listed_as_inputs_are_not_duplicated(tmp_path):
    path = _save(_old_style(), tmp_path / "old.onnx")
    twin = weightless_twin(path)
    assert twin.weight_inputs == {"W1": (200, 48), "W2": (200, 10)}
    graph = _graph(twin)
    assert [i.name for i in graph.input] == ["x", "W1", "B1", "W2"]
    assert [t.name for t in graph.initializer] == ["B1"]
    _assert_same_shapes(path, twin)


def test_old_style_input_without_shape_gets_the_initializer_shape(tmp_path):
    model = _old_style()
    model.graph.input[1].type.tensor_type.ClearField("shape")
    path = _save(model, tmp_path / "old.onnx")
    graph = _graph(weightless_twin(path))
    w1 = next(i for i in graph.input if i.name == "W1")
    assert [d.dim_value for d in w1.type.tensor_type.shape.dim] == [200, 48]


def test_large_constant_nodes_become_inputs(tmp_path):
    path = _save(_constant_nodes(), tmp_path / "const.onnx")
    twin = weightless_twin(path)
    assert twin.weight_inputs == {"w": (16, 8, 3, 3), "w16": (16, 200)}
    assert twin.weight_dtypes == {"w": "float32", "w16": "float16"}
    graph = _graph(twin)
    assert [n.name for n in graph.node if n.op_type == "Constant"] == ["const_axes"]
    _assert_same_shapes(path, twin, renamed={"const_w": "w", "const_w16": "w16"})


def test_external_data_large_tensors_become_inputs_small_ones_are_inlined(tmp_path):
    path = _save(_cnn(), tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                 location="w.bin", size_threshold=0)
    twin = weightless_twin(path)
    assert twin.external_files == ("w.bin",)
    assert twin.weight_inputs == CNN_REMOVED
    graph = _graph(twin)
    for tensor in graph.initializer:
        assert tensor.data_location == TensorProto.DEFAULT and not tensor.external_data
    values = {t.name: numpy_helper.to_array(t).tolist() for t in graph.initializer}
    assert values["shape"] == [1, -1] and values["scales"] == [1, 1, 2, 2]
    assert values["b1"] == numpy_helper.to_array(_cnn().graph.initializer[2]).tolist()
    _assert_same_shapes(path, twin)

    (tmp_path / "w.bin").unlink()  # the small tensors' data is needed and gone
    with pytest.raises(ModelFileError, match="w.bin is missing"):
        weightless_twin(path)


def test_external_data_with_only_large_tensors_does_not_read_the_file(tmp_path):
    path = _save(_cnn(), tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                 location="weights.data", size_threshold=4 * KEEP_MAX_ELEMENTS + 1)
    (tmp_path / "weights.data").unlink()
    twin = weightless_twin(path)
    assert twin.external_files == ("weights.data",)
    assert twin.weight_inputs == CNN_REMOVED


def test_external_data_location_outside_the_folder_is_refused(tmp_path):
    model = _cnn()
    shape = next(t for t in model.graph.initializer if t.name == "shape")
    shape.ClearField("raw_data")
    shape.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "16")):
        entry = shape.external_data.add()
        entry.key, entry.value = key, value
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelFileError, match="invalid external data location"):
        weightless_twin(path)


def test_int8_quantized_weights_are_removed_index_tables_kept(tmp_path):
    nodes = [
        helper.make_node("DequantizeLinear", ["wq", "scale", "zero"], ["w"], name="dq"),
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Gather", ["table", "c_idx"], ["g"], axis=0, name="gather"),
    ]
    inits = [_init("wq", None, np.int8, np.ones((64, 8, 3, 3))), _init("scale", None, value=0.5), _init("zero", None, np.int8, 0),
             _init("table", (20000, 2)), _init("c_idx", None, np.int64, np.arange(5000))]
    graph = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("g", TensorProto.FLOAT, None)], inits)
    path = _save(helper.make_model(graph, opset_imports=OPSET), tmp_path / "q.onnx")
    twin = weightless_twin(path)
    assert twin.weight_inputs == {"wq": (64, 8, 3, 3), "table": (20000, 2)}
    assert twin.weight_dtypes == {"wq": "int8", "table": "float32"}
    assert "c_idx" in {t.name for t in _graph(twin).initializer}
    _assert_same_shapes(path, twin)


def test_subgraphs_are_left_untouched(tmp_path):
    then_w = _init("then_w", (40, 40))
    then_graph = helper.make_graph([helper.make_node("MatMul", ["x", "then_w"], ["t"])], "then", [],
                                   [helper.make_tensor_value_info("t", TensorProto.FLOAT, [40, 40])], [then_w])
    else_graph = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                                   [helper.make_tensor_value_info("e", TensorProto.FLOAT, [40, 40])])
    nodes = [helper.make_node("If", ["cond"], ["y"], then_branch=then_graph, else_branch=else_graph, name="if")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [40, 40]),
                                           helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [40, 40])])
    model = helper.make_model(graph, opset_imports=OPSET)
    path = _save(model, tmp_path / "if.onnx")
    twin = weightless_twin(path)
    assert twin.weight_inputs == {}
    assert onnx.load_from_string(twin.model_bytes) == onnx.load(str(path))


@pytest.mark.parametrize("content, reason", [
    (b"", "empty"),
    (b"\x08", "truncated"),
    (b"\x3a\x10abc", "truncated"),  # graph (7) claims 16 bytes, has 3
    (b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "varint longer than 10 bytes"),
    (b"<?xml version='1.0'?><net/>", "wire type"),
    (b"\x08\x07\x12\x04test", "no graph"),
    (b"\x00\x01", "field number 0"),
    (bytes(range(256)) * 4, "not a valid ONNX file"),
])
def test_not_onnx_raises_model_file_error(tmp_path, content, reason):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=reason) as info:
        weightless_twin(path)
    assert "model.onnx" in str(info.value) and "\n" not in str(info.value)
    assert info.value.fix


def test_missing_file_and_folder_raise_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        weightless_twin(tmp_path / "nope.onnx")
    with pytest.raises(ModelFileError, match="folder"):
        weightless_twin(tmp_path)


def test_truncated_model_raises_with_the_offset(tmp_path):
    data = _cnn().SerializeToString()
    path = tmp_path / "model.onnx"
    path.write_bytes(data[: len(data) - 10])
    with pytest.raises(ModelFileError, match=r"model.onnx is not a valid ONNX file \(truncated at byte \d+\)"):
        weightless_twin(path)


def test_a_huge_bogus_length_allocates_nothing(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x3a\xff\xff\xff\xff\x0f" + b"\x00" * 10)  # graph of 4 GB in 16 bytes
    with pytest.raises(ModelFileError, match="truncated"):
        weightless_twin(path)


def test_mutated_files_raise_only_model_file_error(tmp_path):
    """Random truncations, byte flips, insertions and deletions of a real model: the twin is
    either built or ModelFileError is raised; nothing else, and nothing hangs."""
    data = _cnn().SerializeToString()
    # the interesting bytes are the headers, not the weight values: mutate near field boundaries often
    rng = random.Random(1234)
    path = tmp_path / "model.onnx"
    outcomes = {"ok": 0, "error": 0}
    core = ov.Core()
    for trial in range(400):
        mutated = bytearray(data)
        kind = trial % 4
        if kind == 0:
            mutated = mutated[: rng.randrange(len(mutated))]
        else:
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(mutated)) if rng.random() < 0.5 else rng.randrange(min(len(mutated), 400))
                if kind == 1:
                    mutated[at] = rng.randrange(256)
                elif kind == 2:
                    mutated[at:at] = bytes([rng.randrange(256)])
                else:
                    del mutated[at]
        path.write_bytes(bytes(mutated))
        try:
            twin = weightless_twin(path)
        except ModelFileError as exc:
            assert "\n" not in str(exc)
            outcomes["error"] += 1
            continue
        outcomes["ok"] += 1
        assert isinstance(twin.model_bytes, bytes)
        if trial % 10 == 0:
            try:
                core.read_model(twin.model_bytes)
            except Exception:  # a parsable but semantically broken model is OpenVINO's to reject
                pass
    assert outcomes["ok"] and outcomes["error"]


@pytest.mark.parametrize("name_in_file", [b"relu1_QQQQ", b"c1_QQQQ", b"w1_QQQQ"])  # a node name, a tensor, an initializer
def test_a_name_that_is_not_utf8_is_refused_in_one_line(tmp_path, name_in_file):
    """OpenVINO hands names to Python as str: the twin checks every name as it reads it (counting
    no longer asks OpenVINO for each op's names), so a damaged name is a ModelFileError."""
    import flopbench

    model = _cnn()
    renamed = name_in_file.decode()
    original = renamed.removesuffix("_QQQQ")
    for node in model.graph.node:
        node.input[:] = [renamed if n == original else n for n in node.input]
        node.output[:] = [renamed if n == original else n for n in node.output]
        if node.name == original:
            node.name = renamed
    for tensor in model.graph.initializer:
        if tensor.name == original:
            tensor.name = renamed
    data = model.SerializeToString()
    assert data.count(name_in_file) >= 1
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    assert flopbench.count(path).ops  # the model is sound with a valid name
    path.write_bytes(data.replace(name_in_file, name_in_file[:-4] + b"\xff\xfe\xfd\xfc"))
    with pytest.raises(ModelFileError, match=r"model.onnx has an op or tensor name that is not valid UTF-8 \(byte b'\\xff'\)"):
        flopbench.count(path)
