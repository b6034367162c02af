"""Frozen dataclasses that are made as fast as plain objects.

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__` (to get past
its own refusing `__setattr__`): 6 µs for a 16-field `OpCost`, against 0.7 µs for filling the
instance's `__dict__` at once. A count makes several such objects per op (its `OpView`, `Work`,
`OpCost`, `MemoryStep` ...), so their `__init__` is replaced by one with the same signature and
defaults that does the latter. Instances stay frozen, compare, hash and `replace()` as before.
"""
from __future__ import annotations

import dataclasses


def quick_init(cls):
    """Class decorator, applied over `@dataclass(frozen=True)` of a class without `__post_init__`."""
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__, which quick_init would skip")
    namespace: dict = {}
    params, values, defaults = [], [], []
    for field in dataclasses.fields(cls):
        if not field.init:
            raise TypeError(f"{cls.__name__}.{field.name} is not an __init__ field")
        if field.default is not dataclasses.MISSING:
            namespace[f"_default_{field.name}"] = field.default
            params.append(f"{field.name}=_default_{field.name}")
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{field.name}"] = field.default_factory
            params.append(f"{field.name}=_FACTORY")
            defaults.append(f"    if {field.name} is _FACTORY: {field.name} = _factory_{field.name}()\n")
        else:
            params.append(field.name)
        values.append(f"{field.name}={field.name}")
    namespace["_FACTORY"] = object()
    source = (f"def __init__(self, {', '.join(params)}):\n" + "".join(defaults)
              + f"    self.__dict__.update({', '.join(values)})\n")
    exec(source, namespace)  # noqa: S102 - built from the class's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    init.fills_dict = True  # all it does: the instance's __dict__, field by field in order (a reader may do the same)
    cls.__init__ = init
    return cls
