"""One codec for every result: a frozen dataclass is written as JSON and read back from its type hints.

A result kind is declared once, as a dataclass decorated with `@result_kind("count", version=1)`: its
documents carry the schema id `flopbench/count/1`, `load_result` finds the class by that id, and the
class gets `to_dict()` / `from_dict()` made from its fields. The classes it holds (rows, settings,
statistics) need no declaration: any dataclass is written field by field; `@encoded(...)` is only
for one that adds derived values to its JSON or hands a value down to the classes it holds.

What a field needs beyond its type is said where it is declared, with `json_field(...)`:
- `json="output"`: its key in the document, when that differs from the attribute's name;
- `omit=True`: never written (values kept in memory only, such as raw outputs);
- `only_if="save_latencies"`: written only when `to_dict(save_latencies=True)` asks for it;
- `omit_none=True`: not written while it is None (a key some records have and others lack), read
  back as its default when absent;
- `mapping=True`: pairs ((key, value), ...) written as a JSON object;
- `flatten=True`: a mapping whose keys sit beside the object's own ones (read back: every key that is
  not a field);
- `by_name="ops"`: objects written as their `.name`, read back from the `ops` that an enclosing
  object hands down (`passes=("ops",)`).

Derived values (totals, FLOPs from MACs) are listed once on the class, as names of properties or
`Derived(key, function)`; they are written after the fields and skipped when read: the object
computes them again. A document of an older version of a kind is read through the upgrade the kind
declares for it, or refused by name; a newer one is refused by name.
"""
from __future__ import annotations

import dataclasses
import enum
import itertools
import types
import typing
from collections import abc
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import PurePath
from typing import Any

import numpy as np

from ..errors import ResultFileError

SCHEMA_KEY = "schema"
PREFIX = "flopbench"

_CODEC = "__codec__"
_BY_NAME = "__by_name__"  # the key of a passed value's index by name
_MISSING = dataclasses.MISSING


@dataclasses.dataclass(frozen=True)
class Derived:
    """A value the JSON keeps that the object computes: `function(obj, options)`, where options are
    the encoding's options plus what enclosing objects pass down."""

    key: str
    function: Callable[[Any, Mapping[str, Any]], Any]


@dataclasses.dataclass(frozen=True)
class ClassCodec:
    derived: tuple[str | Derived, ...] = ()
    passes: tuple[str, ...] = ()  # fields handed down to the objects this one holds
    schema: str | None = None  # "flopbench/count/1" for a result kind
    # keys a command may write beside a result kind's own (count's memory_budget): described, not held
    extras: tuple[str, ...] = ()
    # for a class held by a result: how a dict written before a field existed gives that field (read only)
    before_read: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None


@dataclasses.dataclass(frozen=True)
class Kind:
    """A registered result kind: its name, current version, class, and upgrades of older versions."""

    name: str
    version: int
    cls: type
    upgrades: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]]

    @property
    def schema(self) -> str:
        return schema_id(self.name, self.version)


_KINDS: dict[str, Kind] = {}


def schema_id(kind: str, version: int) -> str:
    return f"{PREFIX}/{kind}/{version}"


def json_field(*, json: str | None = None, omit: bool = False, only_if: str | None = None, omit_none: bool = False,
               mapping: bool = False, flatten: bool = False, by_name: str | None = None, default: Any = _MISSING,
               default_factory: Any = _MISSING, compare: bool = True, repr: bool = True) -> Any:  # noqa: A002
    """A dataclass field with what the codec needs to know about it (see the module)."""
    meta = {"json": json, "omit": omit, "only_if": only_if, "omit_none": omit_none, "mapping": mapping, "flatten": flatten,
            "by_name": by_name}
    return dataclasses.field(default=default, default_factory=default_factory, compare=compare, repr=repr,
                             metadata={_CODEC: {k: v for k, v in meta.items() if v}})


def _install(cls: type, codec: ClassCodec) -> type:
    setattr(cls, _CODEC, codec)
    for name in ("to_dict", "from_dict"):
        if name in cls.__dict__:
            raise TypeError(f"{cls.__name__} defines {name} by hand; the codec writes it (flopbench.results.codec)")

    def to_dict(self, **options: Any) -> dict[str, Any]:
        """This object as a JSON-able dict (options: what `json_field(only_if=...)` fields ask for)."""
        return encode(self, **options)

    def from_dict(klass, data: dict[str, Any]):
        """The object a dict written by `to_dict` describes."""
        return decode(klass, data)

    to_dict.__qualname__ = f"{cls.__qualname__}.to_dict"
    to_dict.made_by_codec = from_dict.made_by_codec = True
    cls.to_dict = to_dict
    cls.from_dict = classmethod(from_dict)
    return cls


def encoded(cls: type | None = None, *, derived: tuple[str | Derived, ...] = (), passes: tuple[str, ...] = (),
            before_read: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None):
    """Class decorator for a dataclass held by a result that writes derived values, passes values
    down, or reads what older documents wrote for it in another place (`before_read`)."""
    def wrap(klass: type) -> type:
        return _install(klass, ClassCodec(derived=tuple(derived), passes=tuple(passes), before_read=before_read))

    return wrap(cls) if cls is not None else wrap


def result_kind(kind: str, version: int = 1, *, derived: tuple[str | Derived, ...] = (), passes: tuple[str, ...] = (),
                upgrades: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]] | None = None, extras: tuple[str, ...] = ()):
    """Class decorator: the dataclass is the result kind `kind`, written under `flopbench/<kind>/<version>`.
    `upgrades` maps an older version to a function that turns its document into the current version's shape;
    `extras` names keys a command writes beside the result (read back: ignored). A kind registered twice is an error."""
    def wrap(cls: type) -> type:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} is not a dataclass")
        known = _KINDS.get(kind)
        # the same class again is a module reloaded (importlib.reload), not a second declaration
        if known is not None and (known.cls.__module__, known.cls.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"result kind {kind!r} is already registered by {known.cls.__module__}.{known.cls.__qualname__}")
        _KINDS[kind] = Kind(kind, version, cls, dict(upgrades or {}))
        return _install(cls, ClassCodec(derived=tuple(derived), passes=tuple(passes), schema=schema_id(kind, version),
                                        extras=tuple(extras)))

    return wrap


def registered_kinds() -> dict[str, Kind]:
    return dict(_KINDS)


def schema_of(cls: type) -> str:
    """The schema id a result kind's documents carry ("flopbench/count/1")."""
    codec = getattr(cls, _CODEC, None)
    if not isinstance(codec, ClassCodec) or codec.schema is None:
        raise TypeError(f"{cls.__name__} is not a result kind")
    return codec.schema


def is_result_kind(cls: type) -> bool:
    codec = getattr(cls, _CODEC, None)
    return isinstance(codec, ClassCodec) and codec.schema is not None


def written_keys(cls: type) -> set[str]:
    """Every key an instance of `cls` may write (options such as save_latencies on), schema aside."""
    codec, plan = _plan(cls)
    keys = {item.key for item in plan if not item.meta.get("omit") and not item.meta.get("flatten")}
    return keys | {entry.key if isinstance(entry, Derived) else entry for entry in codec.derived}


def extra_keys(cls: type) -> tuple[str, ...]:
    return _plan(cls)[0].extras


def has_open_keys(cls: type) -> bool:
    """Whether `cls` writes keys of its own choosing beside its fields (a flattened mapping)."""
    return any(item.meta.get("flatten") for item in _plan(cls)[1])


def key_of(cls: type, name: str) -> str:
    return next(item.key for item in _plan(cls)[1] if item.name == name)


def held_classes(cls: type) -> set[type]:
    """`cls` and every dataclass its fields hold, however deep (through tuples, dicts, unions)."""
    found: set[type] = set()
    pending = [cls]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.add(current)
        hints = typing.get_type_hints(current)
        for item in dataclasses.fields(current):
            stack = [hints.get(item.name)]
            while stack:
                hint = stack.pop()
                if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                    pending.append(hint)
                stack.extend(typing.get_args(hint))
    return found


def made_by_codec(cls: type, name: str) -> bool:
    """Whether `cls.<name>` (to_dict, from_dict) is the codec's, not written by hand."""
    member = cls.__dict__.get(name)
    member = getattr(member, "__func__", member)
    return member is None or getattr(member, "made_by_codec", False)


def field_is_reference(cls: type, name: str) -> bool:
    """Whether the field is written as the names of objects held elsewhere (`json_field(by_name=...)`)."""
    return any(item.name == name and item.meta.get("by_name") for item in _plan(cls)[1])


# ---- encoding --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    key: str
    hint: Any
    meta: Mapping[str, Any]
    default: Any
    has_default: bool


@lru_cache(maxsize=None)
def _plan(cls: type) -> tuple[ClassCodec, tuple[_Field, ...]]:
    codec = getattr(cls, _CODEC, None) if _CODEC in cls.__dict__ else None
    hints = typing.get_type_hints(cls)
    plan = []
    for item in dataclasses.fields(cls):
        meta = item.metadata.get(_CODEC, {})
        has_default = item.default is not _MISSING or item.default_factory is not _MISSING
        default = item.default if item.default is not _MISSING else item.default_factory
        plan.append(_Field(item.name, meta.get("json") or item.name, hints.get(item.name, Any), meta, default, has_default))
    return codec or ClassCodec(), tuple(plan)


def encode(obj: Any, **options: Any) -> dict[str, Any]:
    """A dataclass instance as a dict of JSON values (a result kind's starts with its schema id)."""
    return _encode_object(obj, options)


def _encode_object(obj: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    codec, plan = _plan(type(obj))
    out: dict[str, Any] = {SCHEMA_KEY: codec.schema} if codec.schema else {}
    inner = {**options, **{name: getattr(obj, name) for name in codec.passes}} if codec.passes else options
    flat: dict[str, Any] = {}
    for item in plan:
        meta = item.meta
        if meta.get("omit") or (meta.get("only_if") and not options.get(meta["only_if"])):
            continue
        value = getattr(obj, item.name)
        if value is None and meta.get("omit_none"):
            continue
        if meta.get("by_name"):
            out[item.key] = [member.name for member in value]
        elif meta.get("mapping") or meta.get("flatten"):
            pairs = value.items() if isinstance(value, Mapping) else value
            mapped = {str(key): _encode_value(member, inner) for key, member in pairs}
            if meta.get("flatten"):
                flat.update(mapped)
            else:
                out[item.key] = mapped
        else:
            out[item.key] = _encode_value(value, inner)
    for entry in codec.derived:
        if isinstance(entry, Derived):
            out[entry.key] = _encode_value(entry.function(obj, inner), inner)
        else:
            out[entry] = _encode_value(getattr(obj, entry), inner)
    out.update(flat)
    return out


_PLAIN = frozenset((str, int, float, bool, type(None)))


def _encode_value(value: Any, options: Mapping[str, Any]) -> Any:
    kind = type(value)  # the exact types first: a count writes thousands of values
    if kind in _PLAIN:
        return value
    if kind is tuple or kind is list:
        return [_encode_value(member, options) for member in value]
    if kind is dict:
        return {str(key): _encode_value(member, options) for key, member in value.items()}
    if hasattr(kind, "__dataclass_fields__"):
        return _encode_object(value, options)
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value if type(value) in (int, float) else (float(value) if isinstance(value, float) else int(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): _encode_value(member, options) for key, member in value.items()}
    if isinstance(value, (tuple, list)):
        return [_encode_value(member, options) for member in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_encode_value(member, options) for member in value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


# ---- decoding --------------------------------------------------------------------------------------

def decode(cls: type, data: Mapping[str, Any]) -> Any:
    """The `cls` instance a dict written by `encode` describes."""
    return _decode_object(cls, data, {})


def _decode_object(cls: type, data: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    return _object_decoder(cls)(data, context)


_PLAIN_FIELD, _NAMED_FIELD, _MAPPED_FIELD, _OTHER_FIELD = range(4)
_MISSING_KEY = object()


@lru_cache(maxsize=None)
def _object_decoder(cls: type) -> Decoder:
    """The function that reads a `cls` from its dict, its fields' decoders looked up once: a count
    of 100,000 layers is 350,000 objects, each read field by field."""
    codec, plan = _plan(cls)
    steps = []
    flat_field = None
    for item in plan:
        meta = item.meta
        if meta.get("flatten"):
            flat_field = item
            continue
        if meta.get("omit"):
            if not item.has_default:
                steps.append((item.name, item.key, _OTHER_FIELD, None, False, None))
            continue
        if meta.get("by_name"):
            how = _NAMED_FIELD
        elif meta.get("mapping"):
            how = _MAPPED_FIELD
        elif item.hint in (int, str, bool):
            how = _PLAIN_FIELD  # the value is taken as it is when its type is exactly the hint's
        else:
            how = _OTHER_FIELD
        steps.append((item.name, item.key, how, _decoder(item.hint), item.has_default, meta.get("by_name") or item.hint))
    steps = tuple(steps)
    passes = frozenset(codec.passes)
    before_read = codec.before_read
    known = {item.key for item in plan} | {entry.key if isinstance(entry, Derived) else entry for entry in codec.derived}
    flat_pairs = flat_field is not None and _is_pairs(flat_field.hint)
    flat_decoder = _decoder(flat_field.hint) if flat_field is not None else None

    # the reader is written out as Python for this class, one block per field, and compiled: the
    # same steps as a loop over `steps` would take, without the loop's own work per field (a count
    # of 100,000 layers reads 3.5 million fields)
    namespace: dict[str, Any] = {
        "Mapping": Mapping, "cls": cls, "before_read": before_read, "_NameIndex": _NameIndex, "_MISSING_KEY": _MISSING_KEY,
        "NOT_OBJECT": f"{cls.__name__} needs a JSON object, not ", "known": known, "SCHEMA_KEY": SCHEMA_KEY,
        "flat_decoder": flat_decoder,
    }
    lines = ["def read(data, context):",
             "    if type(data) is not dict and not isinstance(data, Mapping):",
             "        raise TypeError(NOT_OBJECT + type(data).__name__)"]
    if before_read is not None:
        lines.append("    data = before_read(data)")
    lines.append("    passed = dict(context)" if passes else "    passed = context")
    # each field's value in a variable of its own, handed to the class by name at the end: no dict
    # of values made per object and unpacked again (a field missing from the JSON gets the default
    # the class's __init__ would give it)
    declared = {item.name: item for item in dataclasses.fields(cls)}
    given: list[tuple[str, str]] = []
    for number, (name, key, how, decoder, has_default, hint) in enumerate(steps):
        namespace.update({f"NAME_{number}": name, f"KEY_{number}": key, f"DECODE_{number}": decoder, f"HINT_{number}": hint,
                          f"NEEDS_{number}": f"{cls.__name__} needs {key!r}", f"BY_NAME_{number}": (_BY_NAME, hint),
                          f"PASSED_{number}": (_BY_NAME, name)})
        if decoder is None:
            if not has_default:
                lines.append(f"    raise KeyError(NEEDS_{number})")
            continue
        lines.append(f"    raw = data.get(KEY_{number}, _MISSING_KEY)")
        lines.append(f"    if raw is _MISSING_KEY:")
        if not has_default:
            lines.append(f"        raise KeyError(NEEDS_{number})")
        elif declared[name].default is not _MISSING:
            namespace[f"DEFAULT_{number}"] = declared[name].default
            lines.append(f"        value = DEFAULT_{number}")
        else:
            namespace[f"FACTORY_{number}"] = declared[name].default_factory
            lines.append(f"        value = FACTORY_{number}()")
        lines.append("    else:")
        if how == _PLAIN_FIELD:
            lines.append(f"        value = raw if type(raw) is HINT_{number} else DECODE_{number}(raw, passed)")
        elif how == _NAMED_FIELD:
            # one index per object handed down, not one per reader: a count's layers each name their ops
            lines.append(f"        index = (passed.get(BY_NAME_{number}) or _NameIndex(passed[HINT_{number}])).by_name()")
            lines.append("        value = tuple([index[member] for member in raw])")
        elif how == _MAPPED_FIELD:
            lines += _quick_lines(hint, number, True, namespace) or [f"        value = DECODE_{number}(list(raw.items()), passed)"]
        else:
            lines += _quick_lines(hint, number, False, namespace) or [f"        value = DECODE_{number}(raw, passed)"]
        lines.append(f"    field_{number} = value")
        given.append((name, f"field_{number}"))
        if name in passes:
            lines.append(f"    if raw is not _MISSING_KEY:")
            lines.append(f"        passed[NAME_{number}] = value")
            lines.append(f"        passed[PASSED_{number}] = _NameIndex(value)  # shared by every object below, built once")
    if flat_field is not None:
        namespace["FLAT_NAME"] = flat_field.name
        lines.append("    rest = [(key, value) for key, value in data.items() if key not in known and key != SCHEMA_KEY]")
        lines.append("    flat = flat_decoder(rest, passed)" if flat_pairs else "    flat = flat_decoder(dict(rest), passed)")
        given.append((flat_field.name, "flat"))
    variables = dict(given)
    if getattr(cls.__dict__.get("__init__"), "fills_dict", False) and set(variables) == set(declared):
        # an __init__ that only fills the instance's __dict__ (counting.records.quick_init), every
        # field given: the __dict__ is made here, in the fields' order, as it would make it
        namespace.update({"_new": object.__new__, "_set": object.__setattr__})
        lines.append("    made = _new(cls)")
        lines.append("    _set(made, '__dict__', {" + ", ".join(f"{name!r}: {variables[name]}" for name in declared) + "})")
        lines.append("    return made")
    else:
        lines.append(f"    return cls({', '.join(f'{name}={variable}' for name, variable in given)})")
    exec("\n".join(lines), namespace)  # noqa: S102 - built from the class's own field names, each a variable
    read = namespace["read"]
    read.__qualname__ = f"{cls.__qualname__}.<read>"
    return read


def _quick_lines(hint: Any, number: int, mapped: bool, namespace: dict[str, Any]) -> list[str] | None:
    """Lines that read a field of the commonest forms a count holds millions of -- a shape or None,
    a tuple of shapes, an int or None, pairs of names and sizes, a tuple of objects -- in the
    reader's own code, when the value's types are exactly the hint's: the same tuple its decoder
    makes, without the calls of the decoders nested in each other. Anything else goes to
    DECODE_<number>, as without them (None: the field has no such form)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    fallback = f"DECODE_{number}(list(raw.items()), passed)" if mapped else f"DECODE_{number}(raw, passed)"
    if mapped:  # tuple[tuple[str, int], ...] written as an object: the object's items, as they are
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis and typing.get_origin(args[0]) is tuple:
            pair = typing.get_args(args[0])
            if len(pair) == 2 and all(a in (int, str) for a in pair):
                namespace[f"KEYS_{number}"], namespace[f"VALUES_{number}"] = frozenset((pair[0],)), frozenset((pair[1],))
                return [f"        if type(raw) is dict and KEYS_{number}.issuperset(map(type, raw)) "
                        f"and VALUES_{number}.issuperset(map(type, raw.values())):",
                        "            value = tuple(raw.items())",
                        "        else:",
                        f"            value = {fallback}"]
        return None
    optional = origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args
    inner = next(a for a in args if a is not type(None)) if optional else hint
    inner_origin, inner_args = typing.get_origin(inner), typing.get_args(inner)
    first = "        if raw is None:\n            value = None\n        el" if optional else "        "
    if inner in (int, str) and optional:
        namespace[f"INNER_{number}"] = inner
        return [f"        value = raw if raw is None or type(raw) is INNER_{number} else {fallback}"]
    if inner_origin is not tuple or len(inner_args) != 2 or inner_args[1] is not Ellipsis:
        return None
    member = inner_args[0]
    if member in (int, str):  # a shape
        namespace[f"EXACT_{number}"] = frozenset((member,))
        return [f"{first}if type(raw) is list and EXACT_{number}.issuperset(map(type, raw)):",
                "            value = tuple(raw)", "        else:", f"            value = {fallback}"]
    member_args = typing.get_args(member)
    if (not optional and typing.get_origin(member) is tuple and len(member_args) == 2 and member_args[1] is Ellipsis
            and member_args[0] in (int, str)):  # shapes
        namespace[f"EXACT_{number}"] = frozenset((member_args[0],))
        namespace["_chain"] = itertools.chain.from_iterable
        return ["        if type(raw) is list and all([type(member) is list for member in raw]) "
                f"and EXACT_{number}.issuperset(map(type, _chain(raw))):",
                "            value = tuple([tuple(member) for member in raw])", "        else:", f"            value = {fallback}"]
    if not optional and isinstance(member, type) and dataclasses.is_dataclass(member):  # objects: their reader, once each
        namespace[f"MEMBER_{number}"] = _decoder(member)
        return ["        if type(raw) is list:",
                f"            value = tuple([MEMBER_{number}(member, passed) for member in raw])",
                "        else:", f"            value = {fallback}"]
    return None


class _NameIndex:
    """Objects by their `.name`, indexed when first asked (a count's thousands of layers each name
    some of its ops: one index, not one per layer)."""

    def __init__(self, members: Any):
        self.members = members
        self.index: dict[str, Any] | None = None

    def by_name(self) -> dict[str, Any]:
        if self.index is None:
            self.index = {member.name: member for member in self.members}
        return self.index

    def __getitem__(self, name: str) -> Any:
        return self.by_name()[name]


def _is_pairs(hint: Any) -> bool:
    return typing.get_origin(hint) is tuple


Decoder = Callable[[Any, Mapping[str, Any]], Any]


def _same(value: Any, context: Mapping[str, Any]) -> Any:
    return value


@lru_cache(maxsize=None)
def _decoder(hint: Any) -> Decoder:
    """A function that reads a JSON value as `hint` says."""
    if hint is Any or hint is object:
        return _same
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        reader = []  # the class's reader, looked up once, on first use (a class may hold its own kind)

        def read_object(value, context):
            if not reader:
                reader.append(_object_decoder(hint))
            return reader[0](value, context)
        return read_object
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _union(args)
    if origin is typing.Literal:
        def literal(value, context):
            if value not in args:
                raise ValueError(f"{value!r} is not one of {', '.join(map(repr, args))}")
            return value
        return literal
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            member = _decoder(args[0])
            if args[0] in (int, str):
                exact = frozenset((args[0],))

                def plain_tuple(value, context):  # a shape: its members' types checked at C speed
                    made = tuple(value)
                    if exact.issuperset(map(type, made)):
                        return made
                    return tuple(member(v, context) for v in made)
                return plain_tuple
            return lambda value, context: tuple([member(v, context) for v in value])
        if not args:
            return lambda value, context: tuple(value)
        members = [_decoder(a) for a in args]
        return lambda value, context: tuple([m(v, context) for m, v in zip(members, value, strict=True)])
    if origin in (list, abc.Sequence):
        member = _decoder(args[0]) if args else _same
        return lambda value, context: [member(v, context) for v in value]
    if origin in (frozenset, set):
        member = _decoder(args[0]) if args else _same
        return lambda value, context: origin(member(v, context) for v in value)
    if origin in (dict, abc.Mapping):
        key = _decoder(args[0]) if args else _same
        member = _decoder(args[1]) if args else _same
        key_type = args[0] if args else str
        return lambda value, context: {key(int(k) if key_type is int else k, context): member(v, context)
                                       for k, v in (value.items() if isinstance(value, Mapping) else value)}
    if hint is np.ndarray or origin is np.ndarray:  # NDArray[np.int64] names its element type
        dtype = typing.get_args(args[1])[0] if len(args) == 2 and typing.get_args(args[1]) else None
        return lambda value, context: np.asarray(value, dtype=dtype)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda value, context: hint(value)
    if isinstance(hint, type) and issubclass(hint, PurePath):
        return lambda value, context: hint(value)
    if hint is float:
        def number(value, context):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"expected a number, got {value!r}")
            return value
        return number
    if hint in (int, str, bool):
        def plain(value, context):
            if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
                raise TypeError(f"expected {hint.__name__}, got {value!r}")
            return value
        return plain
    if hint is type(None):
        return _same
    return _same


def _union(args: tuple[Any, ...]) -> Decoder:
    options = [a for a in args if a is not type(None)]
    optional = len(options) < len(args)
    decoders = [_decoder(a) for a in options]

    if optional and len(decoders) == 1:  # Shape | None, int | None: most of a count's fields
        only = decoders[0]

        def maybe(value, context):
            return None if value is None else only(value, context)
        return maybe

    def union(value, context):
        if value is None and optional:
            return None
        if len(decoders) == 1:
            return decoders[0](value, context)
        for option, decoder in zip(options, decoders):
            if isinstance(option, type) and not dataclasses.is_dataclass(option) and isinstance(value, option):
                return value
        for decoder in decoders:
            try:
                return decoder(value, context)
            except (TypeError, ValueError, KeyError):
                continue
        raise TypeError(f"{value!r} matches none of {args}")

    return union


# ---- documents -------------------------------------------------------------------------------------

def kind_of(schema: str) -> tuple[str, int] | None:
    parts = schema.split("/") if isinstance(schema, str) else []
    if len(parts) != 3 or parts[0] != PREFIX or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def readable(schema: str) -> Kind:
    """The registered kind that reads documents of `schema`, or a ResultFileError naming why not."""
    parsed = kind_of(schema)
    kind = _KINDS.get(parsed[0]) if parsed else None
    if kind is None:
        known = ", ".join(k.schema for k in sorted(_KINDS.values(), key=lambda k: k.name))
        raise ResultFileError(f"schema {schema}, which this flopbench cannot read", f"it reads {known}; update flopbench")
    version = parsed[1]
    if version > kind.version:
        raise ResultFileError(f"schema {schema} was written by a newer flopbench; this one reads {kind.name} up to version {kind.version}",
                              "update flopbench to read it")
    if version < kind.version and version not in kind.upgrades:
        raise ResultFileError(f"schema {schema} is an older {kind.name} document that this flopbench no longer reads "
                              f"(it reads {kind.schema})", "write it again with this flopbench")
    return kind


def upgraded(document: Mapping[str, Any]) -> tuple[Kind, Mapping[str, Any]]:
    """The kind a document's schema names, and the document in that kind's current shape (an older
    version upgraded; its schema id then the current one)."""
    kind = readable(document.get(SCHEMA_KEY))
    version = kind_of(document[SCHEMA_KEY])[1]
    if version == kind.version:
        return kind, document
    return kind, {**kind.upgrades[version](dict(document)), SCHEMA_KEY: kind.schema}


def decode_document(document: Mapping[str, Any]) -> Any:
    """The result a document holds, read by the kind its schema names (older versions upgraded first)."""
    kind, data = upgraded(document)
    return decode(kind.cls, data)
