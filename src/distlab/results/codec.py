"""The results file's one encoding and one strict decoding, and its JSON Schema.

The standard library only, on the dataclasses of model.py and their type hints: an engine
process encodes its cell records in an environment that may have nothing else (Flink's
virtualenv), and the model's types are few (records, ``X | None``, lists, string-keyed
dicts, str, int, float, bool, Any). ``convert`` checks every field's type and says where a
file is wrong (``Expected `number`, got `str` - at `$.cells[3].wall_s```); ``schema``
writes the JSON Schema from the same classes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from pathlib import Path
from typing import Any

from distlab.results.model import _ALWAYS, CellRecord, Results, in_file

#: the shipped JSON Schema of results.json (regenerate: ``python -m distlab.results.codec``)
SCHEMA_PATH = Path(__file__).with_name("results.schema.json")


def jsonable(obj: Any) -> Any:
    """What JSON cannot encode itself: numpy scalars, sets and tuples, else the text."""
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def to_plain(obj: Any) -> Any:
    """Records as JSON objects (a field that is None left out, but for the fields every
    cell has), lists and dicts through; anything else as it is."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        keep = _ALWAYS if isinstance(obj, CellRecord) else ()
        return {
            f.name: to_plain(v)
            for f in dataclasses.fields(obj)
            if in_file(f) and ((v := getattr(obj, f.name)) is not None or f.name in keep)
        }
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    return obj


def encode(doc: Results) -> str:
    """The results file's text."""
    return json.dumps(to_plain(doc), indent=1, default=jsonable)


class DecodeError(ValueError):
    """The document does not fit the model: the message says what and where."""


def decode(data: Any) -> Results:
    """A results document (current layout: upgrade.py first) as the typed model, every
    field's type checked."""
    return convert(data, Results)


def convert(value: Any, tp: Any, where: str = "$") -> Any:
    """``value`` (decoded JSON) as type ``tp``: a dataclass of the model, ``X | None``,
    ``list[X]``, ``dict[str, X]``, str, int, float (an int is a float), bool or Any.
    A field a record does not know is ignored; a missing one takes its default."""
    if tp is Any:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return convert(value, inner[0], where)
        raise DecodeError(f"unsupported type {tp} - at `{where}`")  # not in the model
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            _wrong("object", value, where)
        kwargs = {}
        for f in filter(in_file, dataclasses.fields(tp)):
            if f.name in value:
                kwargs[f.name] = convert(value[f.name], _hints(tp)[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise DecodeError(f"Object missing required field `{f.name}` - at `{where}`")
        return tp(**kwargs)
    if origin is list:
        if not isinstance(value, list):
            _wrong("array", value, where)
        return [convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            _wrong("object", value, where)
        return {k: convert(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        _wrong("number", value, where)
    if tp is int and (not isinstance(value, int) or isinstance(value, bool)):
        _wrong("int", value, where)
    if tp in (str, bool) and not isinstance(value, tp):
        _wrong(tp.__name__, value, where)
    return value


_JSON_NAMES = {dict: "object", list: "array", str: "str", int: "int", float: "number",
               bool: "bool", type(None): "null"}  # fmt: skip


def _wrong(expected: str, value: Any, where: str) -> None:
    got = _JSON_NAMES.get(type(value), type(value).__name__)
    raise DecodeError(f"Expected `{expected}`, got `{got}` - at `{where}`")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def schema() -> dict[str, Any]:
    """The JSON Schema of the current results file, generated from the model."""
    defs: dict[str, Any] = {}
    root = _schema_of(Results, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "distlab results file",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def _schema_of(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if tp is Any:
        return {}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return {"anyOf": [_schema_of(a, defs) for a in args]}
    if dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # a placeholder while its fields are written
            props, required = {}, []
            for f in filter(in_file, dataclasses.fields(tp)):
                prop = _schema_of(_hints(tp)[f.name], defs)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    required.append(f.name)
                elif f.default is not dataclasses.MISSING and f.default is not None:
                    prop = {**prop, "default": f.default}
                props[f.name] = prop
            out = {"type": "object", "title": name, "properties": props}
            if tp.__doc__:
                out["description"] = " ".join(tp.__doc__.split())
            if required:
                out["required"] = required
            defs[name] = out
        return {"$ref": f"#/$defs/{name}"}
    if origin is list:
        return {"type": "array", "items": _schema_of(args[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(args[1], defs)}
    return {"type": {str: "string", int: "integer", float: "number", bool: "boolean",
                     type(None): "null"}[tp]}  # fmt: skip


def schema_text() -> str:
    return json.dumps(schema(), indent=1, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Regenerate the shipped schema from the model."""
    path.write_text(schema_text())
    return path


if __name__ == "__main__":
    print(write_schema())
