"""The house by stage: the folder tree is the data flow. A stage imports only from the stages
before it (errors and results/ from anywhere), and no private name crosses a module boundary."""
import ast
import re
from pathlib import Path

import flopbench

PACKAGE = Path(flopbench.__file__).parent
# the stages in data-flow order; a new capability is a new folder, placed here
STAGES = ("model", "zoo", "counting", "measure", "profiling", "quantize", "converting", "comparing", "study", "fleet", "render", "reporting", "cli")
ANYWHERE = {"errors", "results", "version", "__init__", "__main__"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield path, parts


def _imports(path: Path, parts: tuple[str, ...]):
    """(target module parts, imported names) of every flopbench import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = base + tuple(node.module.split(".")) if node.module else base
            elif node.module and node.module.split(".")[0] == "flopbench":
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            yield target, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "flopbench":
                    yield tuple(alias.name.split(".")[1:]), []


def test_every_package_is_a_known_stage():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    unknown = packages - set(STAGES) - ANYWHERE
    assert not unknown, f"place the new package(s) {sorted(unknown)} in STAGES (tests/test_layout.py) and the tree in docs/architecture.md"


def test_no_stage_imports_a_later_stage():
    wrong = []
    for path, parts in _modules():
        stage = parts[0] if len(parts) > 1 else None
        if stage not in STAGES:
            continue
        for target, _ in _imports(path, parts):
            if not target or target[0] in ANYWHERE or target[0] not in STAGES:
                continue
            if STAGES.index(target[0]) > STAGES.index(stage):
                wrong.append(f"{'/'.join(parts)} imports {'.'.join(target)}")
    assert not wrong, "\n".join(wrong)


def test_no_private_name_crosses_a_module_boundary():
    wrong = []
    for path, parts in _modules():
        for target, names in _imports(path, parts):
            wrong += [f"{'/'.join(parts)} imports {name} from {'.'.join(target)}" for name in names
                      if name.startswith("_") and not name.startswith("__")]
    assert not wrong, "\n".join(wrong)


ENGINES_PACKAGE = ("measure", "engines")


def _engine_words() -> tuple[str, ...]:
    from flopbench.measure.engines import ALIASES, ENGINES

    return tuple(sorted({*ENGINES, *ALIASES}, key=len, reverse=True))


def _engine_word():
    """An engine name or alias as a lowercase word, not the head of a dotted Python path."""
    return re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, _engine_words())) + r")(?![\w-])(?!\.(?:\w|$))")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def test_no_engine_name_outside_the_engines():
    """An engine is known by name only inside flopbench/measure/engines/: everything else asks the
    engine object (`get_engine(name).display_name`, `.file_kinds`, `.precision_settings`,
    `.check_profilable()` ...) or uses `DEFAULT_ENGINE`, so a new engine is one module there.

    The rule, precisely: in every module outside flopbench/measure/engines/, no string literal
    (f-string parts included; docstrings, which explain, excluded) holds a registered engine name or
    alias (read from the registry, so a new engine's names are checked at once) as a lowercase word.
    Allowed, because they name Python code rather than choose an engine:
    - `import openvino` and other import statements (not string literals): a stage that genuinely
      uses OpenVINO's API, as model/ reads and counts models with it;
    - a dotted Python path, the word followed by "." and a name or the string's end
      (`"openvino.Model"`, `"ov.save_model"`, `"openvino.tools.ovc"`, a module prefix `"openvino."`);
    - the capitalized product names in prose ("OpenVINO cannot read ..."), which say which library
      read a file, not which engine to run."""
    word = _engine_word()
    wrong = []
    for path, parts in _modules():
        if parts[: len(ENGINES_PACKAGE)] == ENGINES_PACKAGE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                found = word.search(node.value)
                if found:
                    wrong.append(f"{'/'.join(parts)}.py:{node.lineno}: {found.group(1)!r} in {node.value[:60]!r}")
    assert not wrong, "ask the engine (flopbench/measure/engines/) instead of naming it:\n" + "\n".join(wrong)


def test_the_engine_name_rule_catches_a_name():
    """The rule above finds what it must: a name, an alias, a name inside a message; not a dotted path."""
    words, word = _engine_words(), _engine_word()
    assert all(word.search(text) for text in (words[-1], f"use --engine {words[0]}", f"{words[0]}:f32"))
    assert not any(word.search(text) for text in ("openvino.Model", "ov.save_model", "openvino.", "sort", "ov_model"))


def test_no_result_kind_writes_its_json_by_hand():
    """A result kind and every class it holds are written and read by flopbench.results.codec, from
    their fields: a hand-written to_dict/from_dict would be a second declaration that can drift."""
    from flopbench.results import codec, kinds

    held = {cls for kind in kinds.all_kinds().values() for cls in codec.held_classes(kind.cls)}
    # the records a sweep and a fleet keep per point are typed too, so the rule reaches them through their kinds
    from flopbench.fleet.records import Attempt, FleetPointRecord
    from flopbench.study import records as sweep_records

    record_classes = {cls for cls in vars(sweep_records).values() if isinstance(cls, type) and cls.__module__ == sweep_records.__name__}
    record_classes |= {FleetPointRecord, Attempt}
    assert len(record_classes) >= 11 and record_classes <= held, sorted(c.__name__ for c in record_classes - held)
    wrong = [f"{cls.__module__}.{cls.__qualname__}.{name}" for cls in held for name in ("to_dict", "from_dict")
             for klass in cls.__mro__ if klass is not object and not codec.made_by_codec(klass, name)]
    assert not wrong, "write these with flopbench.results.codec (@encoded / json_field), not by hand:\n" + "\n".join(sorted(set(wrong)))


FORMAT_WORDS = {"table", "json", "csv", "markdown", "html"}


def _format_literals(node) -> set[str]:
    """The output-format names a comparison's operand spells out, alone or in a tuple, list or set."""
    if isinstance(node, ast.Constant) and node.value in FORMAT_WORDS:
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {element.value for element in node.elts if isinstance(element, ast.Constant) and element.value in FORMAT_WORDS}
    return set()


def test_no_render_module_branches_on_a_format():
    """Renderers register per (kind, format) in render/registry.py and the CLI asks it: a module of
    render/ that compares a value with "json" or "csv" chooses a format by hand again."""
    wrong = []
    for path, parts in _modules():
        if parts[0] != "render":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                words = set().union(*(_format_literals(operand) for operand in (node.left, *node.comparators)))
                if words:
                    wrong.append(f"{'/'.join(parts)}.py:{node.lineno} compares with {sorted(words)}")
    assert not wrong, "register a renderer with @renderer(kind, format) instead:\n" + "\n".join(wrong)


# the loops that time one inference at a time: bench's (run_sync, and SyncBlocks over it) and the
# async pool's workers (ExecutorRequests, which run_async drives)
TIMED_LOOPS = {("measure", "policy"), ("measure", "requests")}


NS_CLOCKS = {"perf_counter_ns", "monotonic_ns", "time_ns", "process_time_ns", "thread_time_ns"}


def test_inferences_are_timed_in_the_policy_s_loop_only():
    """One timed loop: profile's unprofiled blocks, its profiled run on each engine, calibration,
    the bandwidth chains and `run` time their inferences through measure/policy.py. A module that
    reads a nanosecond clock itself has a timed loop of its own again (a job's duration in seconds,
    time.perf_counter, is not an inference's)."""
    wrong = []
    for path, parts in _modules():
        if parts in TIMED_LOOPS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            read = (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "time"
                    and node.attr in NS_CLOCKS) or (isinstance(node, ast.ImportFrom) and node.module == "time"
                                                   and any(alias.name in NS_CLOCKS for alias in node.names))
            if read:
                wrong.append(f"{'/'.join(parts)}.py:{node.lineno}")
    assert not wrong, "time inferences with measure.policy (run_sync, SyncBlocks), not a clock of your own:\n" + "\n".join(wrong)
