
import os

import pytest

# the CPU plugin may pick bf16 on AVX512-BF16 machines; numeric comparisons want f32
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory):
    """The built-in sep_cnn and std_cnn written once for the whole session: real files."""
    from flopbench.zoo import write_zoo_model

    folder = tmp_path_factory.mktemp("zoo")
    write_zoo_model("sep_cnn", folder)
    write_zoo_model("std_cnn", folder)
    return folder


@pytest.fixture(scope="session")
def sep_cnn_xml(zoo_dir):
    return zoo_dir / "sep_cnn.xml"


@pytest.fixture(scope="session")
def sep_cnn_onnx(zoo_dir):
    return zoo_dir / "sep_cnn.onnx"


@pytest.fixture(scope="session")
def image_npy(zoo_dir):
    return zoo_dir / "image.npy"


@pytest.fixture(scope="session")
def quantized_twin(sep_cnn_xml, tmp_path_factory):
    """`flopbench quantize sep_cnn.xml` run once for the session: the twin's .xml, its JSON report, the command's output."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("quantized")
    report = folder / "quantize.json"
    done = subprocess.run([sys.executable, "-m", "flopbench", "quantize", str(sep_cnn_xml), "-o", str(folder / "q"), "--samples", "8",
                           "--json", str(report)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return folder / "q" / "sep_cnn.xml", report, done.stdout


@pytest.fixture(scope="session")
def roofline_cache(tmp_path_factory):
    """A quick roofline per engine, measured once into a cache of the test session's own
    (FLOPBENCH_CACHE_DIR, inherited by subprocesses): profiles find it, ~/.cache is never touched."""
    from flopbench.profiling.roofline import roofline

    folder = tmp_path_factory.mktemp("roofline-cache")
    previous = os.environ.get("FLOPBENCH_CACHE_DIR")
    os.environ["FLOPBENCH_CACHE_DIR"] = str(folder)
    roofs = {engine: roofline(engine, quick=True) for engine in ("openvino", "onnxruntime")}
    yield roofs
    if previous is None:
        os.environ.pop("FLOPBENCH_CACHE_DIR", None)
    else:
        os.environ["FLOPBENCH_CACHE_DIR"] = previous


# set by .ci/run: there a missing browser is a failure, not a skip
REQUIRE_BROWSER = "FLOPBENCH_REQUIRE_BROWSER"


@pytest.fixture(scope="module")
def browser():
    """Debian's headless chromium, which pip cannot install: the page tests are skipped without it
    (the reason says how to install it), except under CI, which installs it and sets
    FLOPBENCH_REQUIRE_BROWSER=1, where its absence fails them."""
    import shutil

    from chromium import Chromium

    if not shutil.which("chromium"):
        message = ("Debian's chromium is not installed: the tests that open pages in a browser need it; "
                   "run them after `apt-get install chromium` (.ci/run installs it)")
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{message}; {REQUIRE_BROWSER}=1 makes its absence a failure", pytrace=False)
        pytest.skip(message)
    with Chromium(width=1200, height=900) as chromium:
        yield chromium


@pytest.fixture(scope="session")
def write_residual_block(tmp_path_factory):
    """Writes y = Relu(Conv3×3(x) + b + x) as ONNX for a channel count and side, once per size: the
    block whose Add and Relu an engine fuses into one node after the convolution."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    written = {}

    def write(channels: int, side: int):
        if (channels, side) not in written:
            rng = np.random.default_rng(0)
            initializers = [numpy_helper.from_array(rng.standard_normal((channels, channels, 3, 3)).astype(np.float32), "w"),
                            numpy_helper.from_array(rng.standard_normal(channels).astype(np.float32), "b")]
            nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
                     helper.make_node("Add", ["c", "x"], ["r"], name="add"),
                     helper.make_node("Relu", ["r"], ["y"], name="relu")]
            shape = [1, channels, side, side]
            graph = helper.make_graph(nodes, "residual", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)],
                                      [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, shape)], initializers)
            path = tmp_path_factory.mktemp("residual") / "residual.onnx"
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
            written[channels, side] = path
        return written[channels, side]

    return write
