
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
