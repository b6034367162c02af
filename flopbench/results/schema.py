"""The JSON schemas of flopbench's outputs, shipped in the package (flopbench/results/schemas/*.json),
one per result kind; tests/test_results_roundtrip.py checks each against its kind's dataclass.

Every document is checked against its schema when it is loaded (`check`), with sanity bounds on
top: no number a flopbench result holds is as large as 2**63 (a latency of 1e30 ns, an integer
10**400), so such a number is damage, named with the field that holds it. The check is a small
validator of the part of JSON Schema the shipped schemas use (a keyword it does not know is an
error when the schema is compiled, so a schema cannot silently go unchecked); it is compiled once
per schema into plain functions, because a count of 100,000 layers is millions of values.
`validate` is the full `jsonschema` check the tests use as an independent truth.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

from .kinds import kind_modules

LARGEST = 2 ** 63  # nothing a result counts or times comes near it; int64 holds what is below it
IGNORED = frozenset(("$schema", "$id", "$defs", "title", "description", "default", "examples", "format"))


@lru_cache(maxsize=None)
def load_schema(kind: str) -> dict[str, Any]:
    if kind not in kind_modules() and not resources.files("flopbench.results").joinpath("schemas", f"{kind}.json").is_file():
        raise KeyError(f"no schema {kind!r}; have {', '.join(sorted(kind_modules()))}")
    return json.loads(resources.files("flopbench.results").joinpath("schemas", f"{kind}.json").read_text(encoding="utf-8"))


def validate(document: dict[str, Any]) -> None:
    """Check a flopbench JSON document against the schema its "schema" field names (needs jsonschema)."""
    import jsonschema

    name = str(document.get("schema", ""))
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "flopbench":
        raise ValueError(f"not a flopbench document: schema {name!r}")
    jsonschema.validate(document, load_schema(parts[1]))


class Mismatch(ValueError):
    """Where a document departs from its schema: `path` (results[0].latencies_ns.engine[2]) and what is wrong."""

    def __init__(self, problem: str, steps: tuple = ()):
        super().__init__(problem)
        self.problem = problem
        self.steps = list(steps)  # innermost last, filled in as the check unwinds

    @property
    def path(self) -> str:
        text = ""
        for step in self.steps:
            text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
        return text

    def __str__(self) -> str:
        return f"{self.path or 'the document'} {self.problem}"


def check(document: Any, kind: str) -> None:
    """Raise a Mismatch naming the first field of `document` that its kind's schema, or the sanity
    bounds, refuse."""
    try:
        accepted = _accepter(kind)(document)
    except RecursionError:  # nested deeper than the quick walk goes: the check itself says what it says
        accepted = False
    if not accepted:
        _compiled(kind)(document)


# ---- the compiler ----------------------------------------------------------------------------------
# A check is a function of the value alone; the path to a refused value is put together only when
# one is refused, as the Mismatch passes back up through the objects and arrays that hold it.

Check = Callable[[Any], None]

_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
                                       "null": (type(None),), "integer": (int,), "number": (int, float)}


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, (dict, list)) else ("an object" if isinstance(value, dict) else "an array")
    return text if len(text) <= 40 else text[:37] + "..."


def _inside(step: Any, exc: Mismatch) -> Mismatch:
    exc.steps.insert(0, step)
    return exc


def _nothing(value: Any) -> None:
    return None


@lru_cache(maxsize=None)
def _compiled(kind: str) -> Check:
    return _compiler(kind)(load_schema(kind))


@lru_cache(maxsize=None)
def _compiler(kind: str) -> Callable[[Any], Check]:
    """The function that compiles a node of `kind`'s schema into its check (its references
    resolved in that schema, each compiled once)."""
    root = load_schema(kind)
    refs: dict[str, Check | None] = {}

    def ref(target: str) -> Check:
        if not target.startswith("#/"):
            raise ValueError(f"schema {kind}: only local references are checked, not {target!r}")
        if target not in refs:
            node: Any = root
            for part in target[2:].split("/"):
                node = node[part]
            refs[target] = None  # being compiled: a reference to itself looks the check up when it runs
            refs[target] = compile_node(node)
        made = refs[target]
        return made if made is not None else (lambda value: refs[target](value))

    def typed(names: list[str], bounds: list[tuple[str, Callable[[Any], bool], Any]]) -> Check:
        allowed = tuple(t for name in names for t in _TYPES[name])
        whole_floats = "integer" in names and "number" not in names  # as JSON Schema says: 3.0 is an integer
        wanted = " or ".join(names)

        def check_type(value):
            kind_of = type(value)
            if kind_of not in allowed and not (whole_floats and kind_of is float and value.is_integer()):
                raise Mismatch(f"is {_shown(value)}, not {wanted}")
            if kind_of is int or kind_of is float:
                if not -LARGEST < value < LARGEST:
                    _insane(value)
                for says, refuses, bound in bounds:
                    if refuses(value, bound):
                        raise Mismatch(f"is {_shown(value)}, {says} {bound}")

        def check_plain_type(value):  # no bounds: most values of a count (names, flags)
            kind_of = type(value)
            if kind_of not in allowed and not (whole_floats and kind_of is float and value.is_integer()):
                raise Mismatch(f"is {_shown(value)}, not {wanted}")
            if (kind_of is int or kind_of is float) and not -LARGEST < value < LARGEST:
                _insane(value)

        least = bounds[0][2] if len(bounds) == 1 and bounds[0][0] == "below the minimum" else None

        def check_least(value):  # the one bound most numbers have: a count, a time, at least 0
            if type(value) is int and -LARGEST < value < LARGEST:
                if value < least:
                    raise Mismatch(f"is {_shown(value)}, below the minimum {least}")
                return
            check_type(value)

        made = (check_least if least is not None and int in allowed else check_type) if bounds else check_plain_type
        if made is check_least:
            check_least.least = least  # what an object or array holding such numbers checks in its own loop
        elif made is check_plain_type:
            # the types an object holding such a value takes as they are (numbers still get the bound)
            check_plain_type.plain = frozenset(allowed) - {int, float}
        # what a oneOf/anyOf asks before it tries this form: a value of another type never matches it
        made.accepts = frozenset(allowed) | ({float} if whole_floats else set())
        return made

    def compile_node(node: Any) -> Check:
        if node is True or node == {}:
            return _sane  # any value, its numbers still within the sanity bounds
        if node is False:
            def never(value):
                raise Mismatch("is not allowed")
            return never
        unknown = set(node) - IGNORED - KNOWN
        if unknown:
            raise ValueError(f"schema {kind}: keywords {sorted(unknown)} are not checked by flopbench.results.schema")
        checks: list[Check] = []
        if "$ref" in node:
            checks.append(ref(node["$ref"]))
        bounds = [(says, refuses, node[word]) for word, refuses, says in BOUNDS if word in node]
        if "type" in node:
            checks.append(typed(node["type"] if isinstance(node["type"], list) else [node["type"]], bounds))
        elif bounds:
            checks.append(typed(list(_TYPES), bounds))
        if "const" in node:
            constant = node["const"]

            def const(value):
                if value != constant or type(value) is not type(constant):
                    raise Mismatch(f"is {_shown(value)}, not {_shown(constant)}")
            checks.append(const)
        if "enum" in node:
            allowed = node["enum"]

            def enum(value):
                if not any(value == option and type(value) is type(option) for option in allowed):
                    raise Mismatch(f"is {_shown(value)}, not one of {', '.join(map(_shown, allowed))}")
            checks.append(enum)
        if "minLength" in node:
            shortest = node["minLength"]

            def min_length(value):
                if type(value) is str and len(value) < shortest:
                    raise Mismatch(f"is shorter than {shortest} characters")
            checks.append(min_length)
        for word, refuses, says in (("minItems", lambda n, b: n < b, "fewer"), ("maxItems", lambda n, b: n > b, "more")):
            if word in node:
                def count(value, bound=node[word], refuses=refuses, says=says):
                    if type(value) is list and refuses(len(value), bound):
                        raise Mismatch(f"has {len(value)} items, {says} than {bound}")
                checks.append(count)
        if "items" in node:
            member = compile_node(node["items"])
            member_least = getattr(member, "least", None)

            if member_least is not None:
                # a shape, a list of counts: each member an integer at least `member_least`, checked
                # here without a call per member; anything else goes to the member's own check
                floor = max(member_least, -LARGEST + 1)

                def items(value):
                    if type(value) is list:
                        index = 0
                        try:
                            for index, item in enumerate(value):
                                if type(item) is not int or not floor <= item < LARGEST:
                                    member(item)
                        except Mismatch as exc:
                            raise _inside(index, exc) from None
            else:
                def items(value):
                    if type(value) is list:
                        index = 0
                        try:
                            for index, item in enumerate(value):
                                member(item)
                        except Mismatch as exc:
                            raise _inside(index, exc) from None
            checks.append(items)
        if "required" in node:
            needed = tuple(node["required"])

            def required(value):
                if type(value) is dict:
                    for key in needed:
                        if key not in value:
                            raise Mismatch("is missing", (key,))
            checks.append(required)
        if "properties" in node or "additionalProperties" in node:
            known = {key: compile_node(sub) for key, sub in node.get("properties", {}).items()}
            other = compile_node(node.get("additionalProperties", True))
            # most of a count's values are counts (an integer at least 0) and names: those are checked
            # in this loop, without a call per value; anything else goes to its property's own check
            floors = {key: max(check.least, -LARGEST + 1) for key, check in known.items()
                      if getattr(check, "least", None) is not None}
            plain = {key: check.plain for key, check in known.items() if getattr(check, "plain", None)}

            def properties(value):
                if type(value) is dict:
                    key = None
                    try:
                        for key, item in value.items():
                            kind_of = type(item)
                            if kind_of is int:
                                floor = floors.get(key)
                                if floor is not None and floor <= item < LARGEST:
                                    continue
                            elif kind_of in plain.get(key, ()):
                                continue
                            known.get(key, other)(item)
                    except Mismatch as exc:
                        raise _inside(key, exc) from None
            checks.append(properties)
        for word, exactly in (("oneOf", True), ("anyOf", False)):
            if word in node:
                options = [compile_node(sub) for sub in node[word]]

                def choice(value, options=options, exactly=exactly, word=word):
                    # a form that cannot take the value's type is passed over without raising: a count's
                    # hundreds of thousands of shapes (a shape or null) would each cost a Mismatch
                    kind_of = type(value)
                    matched = 0
                    for option in options:
                        accepts = getattr(option, "accepts", None)
                        if accepts is not None and kind_of not in accepts:
                            continue
                        try:
                            option(value)
                            matched += 1
                        except Mismatch:
                            pass
                    if exactly and matched > 1:
                        raise Mismatch(f"matches more than one of the forms the schema allows ({word})")
                    if matched:
                        return
                    failures = []
                    for option in options:  # none matched: each form's reason, to name the likeliest
                        try:
                            option(value)
                        except Mismatch as exc:
                            failures.append(exc)
                    if failures:
                        # the form whose mismatch lies deepest is the one the value was meant to have
                        deepest = max(failures, key=lambda exc: len(exc.steps))
                        if deepest.steps or len(options) == 1:
                            raise deepest
                        raise Mismatch(f"is {_shown(value)}, which matches none of the forms the schema allows")
                checks.append(choice)
        if "allOf" in node:
            checks += [compile_node(sub) for sub in node["allOf"]]
        if "if" in node:
            condition = compile_node(node["if"])
            then = compile_node(node.get("then", True))
            otherwise = compile_node(node.get("else", True))

            def conditional(value):
                try:
                    condition(value)
                except Mismatch:
                    otherwise(value)
                else:
                    then(value)
            checks.append(conditional)
        elif "then" in node or "else" in node:
            raise ValueError(f"schema {kind}: then/else without if")
        # the sanity bounds are checked on the way: a value this node does not look inside (an object
        # without properties, an array without items, a node without a type) is walked for them
        types = node["type"] if isinstance(node.get("type"), list) else [node["type"]] if "type" in node else None
        covered = (any(word in node for word in ("$ref", "const", "enum", "oneOf", "anyOf"))
                   or (types is not None and all(name not in ("object", "array") for name in types))
                   or (types is not None and ("object" not in types or "properties" in node or "additionalProperties" in node)
                       and ("array" not in types or "items" in node)))
        if not covered:
            checks.append(_sane)
        if not checks:
            return _nothing
        if len(checks) == 1:
            return checks[0]
        first, *rest = checks
        if len(rest) == 1:
            second = rest[0]

            def both(value):
                first(value)
                second(value)
            made = both
        else:
            def every(value):
                for one in checks:
                    one(value)
            made = every
        types = [check.accepts for check in checks if getattr(check, "accepts", None) is not None]
        if types:
            made.accepts = frozenset.intersection(*types)
        return made

    return compile_node


# ---- the quick acceptance ----------------------------------------------------------------------------
# Most documents are sound, and a count's millions of values are mostly of a handful of forms: an
# object of known keys, a count (an integer at least 0), a name, a flag, a shape or null. For those
# forms the schema is also written out as Python, one function per object and array, each key's
# test inline, that only says whether the value is surely accepted: it never raises and names
# nothing. A document it accepts is one the check above accepts (a form it does not write out is
# asked of the check itself, as a yes or no); anything else -- a value it does not accept, a key it
# does not know, an integer written 3.0 -- goes to the check above, which accepts it or names the
# field it refuses, as it did alone. One walk for a sound document, of about half the work.

_ACCEPT_PLAIN = frozenset(("type", "minimum")) | IGNORED


@lru_cache(maxsize=None)
def _accepter(kind: str) -> Callable[[Any], bool]:
    root = load_schema(kind)
    namespace: dict[str, Any] = {"LARGEST": LARGEST, "MISSING": object()}
    lines: list[str] = []
    made: dict[str, str] = {}  # a reference's function, by its target
    named: list[str] = []  # the functions of nodes met in place

    def constant(value: Any) -> str:
        name = f"C{len(namespace)}"
        namespace[name] = value
        return name

    def asked(node: Any) -> str:
        """A function that asks the check itself whether a value of `node` is accepted."""
        check = compile_check(node)

        def accepts(value):
            try:
                check(value)
            except Mismatch:
                return False
            return True
        return constant(accepts)

    def compile_check(node: Any) -> Check:
        return _compiler(kind)(node)  # the check of a node below the root, as the check above makes it

    def resolved(node: Any) -> Any:
        while isinstance(node, dict) and set(node) - IGNORED == {"$ref"} and node["$ref"].startswith("#/"):
            target = root
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = target
        return node

    def test(node: Any, x: str) -> tuple[str, bool]:
        """A Python expression true when the value named `x` is surely accepted by `node`, and
        whether it can be true of None."""
        if isinstance(node, dict) and set(node) - IGNORED == {"$ref"} and node["$ref"].startswith("#/"):
            target = node["$ref"]
            inner = resolved(node)
            if isinstance(inner, dict) and inner.get("type") in ("object", "array"):
                if target not in made:
                    made[target] = f"ref_{len(made)}"
                    function(inner, made[target])
                return f"{made[target]}({x})", False
            return test(inner, x)
        if not isinstance(node, dict) or node == {}:
            return f"{asked(node)}({x})", True
        words = set(node) - IGNORED
        types = node.get("type")
        if words <= _ACCEPT_PLAIN and types is not None:
            names = types if isinstance(types, list) else [types]
            if "minimum" in node and (names != ["integer"] or type(node["minimum"]) is not int):
                return f"{asked(node)}({x})", True
            floor = max(node.get("minimum", -LARGEST + 1), -LARGEST + 1)
            parts = []
            for name in names:
                if name == "integer":
                    parts.append(f"(type({x}) is int and {floor} <= {x} < LARGEST)")
                elif name == "number":
                    parts.append(f"((type({x}) is int or type({x}) is float) and -LARGEST < {x} < LARGEST)")
                elif name in ("string", "boolean"):
                    parts.append(f"type({x}) is {'str' if name == 'string' else 'bool'}")
                elif name == "null":
                    parts.append(f"{x} is None")
                else:  # an object or array with no more said of it: the check walks it for the sanity bounds
                    return f"{asked(node)}({x})", True
            return "(" + " or ".join(parts) + ")", "null" in names
        if words == {"const"} and type(node["const"]) in (str, bool, int):
            value = node["const"]
            return f"({x} == {constant(value)} and type({x}) is {type(value).__name__})", False
        if words == {"oneOf"} and len(node["oneOf"]) == 2:
            nulls = [option for option in node["oneOf"] if resolved(option) == {"type": "null"}]
            others = [option for option in node["oneOf"] if resolved(option) != {"type": "null"}]
            if len(nulls) == 1 and len(others) == 1:
                other, takes_none = test(others[0], x)
                if not takes_none:  # exactly one form matches: null, or the other one
                    return f"({x} is None or {other})", True
        if types in ("object", "array") and (words <= ({"type", "items"} if types == "array" else
                                                        {"type", "required", "properties", "additionalProperties"})):
            name = f"node_{len(named)}"
            named.append(name)
            function(node, name)
            return f"{name}({x})", False
        return f"{asked(node)}({x})", True

    def function(node: Any, name: str) -> None:
        """def `name`(value): whether the object or array `node` surely accepts it."""
        body = [f"def {name}(value):"]
        if node["type"] == "array":
            body.append("    if type(value) is not list: return False")
            if "items" in node:
                each, _ = test(node["items"], "item")
                body += ["    for item in value:", f"        if not {each}: return False"]
            else:
                body.append(f"    return {asked(node)}(value)")
            body.append("    return True")
        else:
            body.append("    if type(value) is not dict: return False")
            properties = node.get("properties", {})
            needed = list(node.get("required", ()))
            body.append(f"    found = {sum(1 for key in needed if key in properties)}")
            for key in needed:
                if key not in properties:
                    body.append(f"    if {constant(key)} not in value: return False")
            for key, sub in properties.items():
                each, _ = test(sub, "item")
                body.append(f"    item = value.get({constant(key)}, MISSING)")
                if key in needed:
                    body += ["    if item is MISSING: return False", f"    if not {each}: return False"]
                else:
                    body += ["    if item is not MISSING:", "        found += 1", f"        if not {each}: return False"]
            # keys past the properties: each as additionalProperties says (any value: the sanity bounds)
            rest, _ = test(node.get("additionalProperties", True), "item")
            known = constant(frozenset(properties))
            body += ["    if found != len(value):", "        for key, item in value.items():",
                     f"            if key not in {known} and not {rest}: return False", "    return True"]
        lines.extend(body)

    whole, _ = test(root, "value")
    lines += ["def accept(value):", f"    return {whole}"]
    exec("\n".join(lines), namespace)  # noqa: S102 - built from the shipped schema's own keys, each a constant
    return namespace["accept"]


KNOWN = frozenset(("$ref", "type", "const", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                   "minLength", "minItems", "maxItems", "items", "required", "properties", "additionalProperties", "oneOf", "anyOf",
                   "allOf", "if", "then", "else"))
BOUNDS = (("minimum", lambda v, b: v < b, "below the minimum"), ("exclusiveMinimum", lambda v, b: v <= b, "not above"),
          ("maximum", lambda v, b: v > b, "above the maximum"), ("exclusiveMaximum", lambda v, b: v >= b, "not below"))


def _sane(value: Any) -> None:
    """Every number finite and below 2**63 in size, however deep (the reader already refuses NaN)."""
    kind = type(value)
    if kind is dict:
        key = None
        try:
            for key, item in value.items():
                if type(item) in _DEEPER:
                    _sane(item)
        except Mismatch as exc:
            raise _inside(key, exc) from None
    elif kind is list:
        index = 0
        try:
            for index, item in enumerate(value):
                if type(item) in _DEEPER:
                    _sane(item)
        except Mismatch as exc:
            raise _inside(index, exc) from None
    elif (kind is int or kind is float) and not -LARGEST < value < LARGEST:  # False for NaN and the infinities too
        _insane(value)


def _insane(value: Any) -> None:
    shown = f"a number of {len(str(abs(value)))} digits" if type(value) is int and abs(value) > 10 ** 30 else _shown(value)
    raise Mismatch(f"is {shown}, larger than any number a flopbench result holds")


_DEEPER = frozenset((dict, list, int, float))
