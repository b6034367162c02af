"""Numbers and units are written once (flopbench/render/units.py): one spelling per unit in every
table, page and message, and names from a model file kept to one printable line."""
from pathlib import Path

from flopbench.render import units

RENDER = Path(units.__file__).parent


def test_a_microsecond_is_spelled_one_way():
    assert units.duration(285_400) == "285.4 µs"
    assert units.duration(950) == "950 ns"
    assert units.duration(12_345_678) == "12.35 ms"
    assert units.duration_in_words(400_000) == "400 µs"
    assert units.metric(384_294_700, "ns") == "384.29 ms"  # compare says ms where bench does
    spelled = [path.name for path in RENDER.glob("*.py") if '"us"' in path.read_text(encoding="utf-8") and path.name != "units.py"]
    assert not spelled, f"spell microseconds through render/units.py: {spelled}"


def test_magnitudes_keep_their_unit():
    assert units.si(1_234_567, "FLOPs") == "1.23 MFLOPs"
    assert units.compact(1_489_152) == "1.49M" and units.compact(12_200) == "12.2k"
    assert units.bytes_exact(6_422_528) == "6,422,528 B (6.42 MB)"
    assert units.human_bytes(17_015_456) == "17 MB"
    assert units.count(4_867_293_184) == "4,867,293,184"
    assert units.shape((1, 3, 224, 224)) == "1x3x224x224" and units.shape(None) == ""


def test_safe_name_keeps_a_name_on_one_printable_line():
    assert units.safe_name("conv1/Relu") == "conv1/Relu"
    assert units.safe_name("café·层") == "café·层"
    assert units.safe_name("evil\x1b[31mred\nline\u202e") == "evil\\x1b[31mred\\nline\\u202e"
    assert units.markdown_cell("a|b\r") == "a\\|b\\r"
