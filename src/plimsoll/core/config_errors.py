"""Validation errors of the configuration told in the user's own keys.

pydantic locates an error by the path it validated, which is not always the path the user
wrote: a channel's entry carries the name of its union member (``notify.channels.team.smtp
.port`` for the user's ``notify.channels.team.port``), and a value that may be a string or a
number carries the member tried (``str``, ``float``). :func:`describe` walks the model's
types along that path, keeps only the keys the file has, and for an unknown key suggests the
closest known one, as the rule ids already do.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

# How many errors one message lists before it only counts the rest.
_LISTED = 5


def describe(errors: Sequence[Mapping[str, Any]], root: type[BaseModel]) -> str:
    """Every error as ``key: problem``, separated by ``; `` (the first few, then a count)."""
    told = [_one(error, root) for error in errors[:_LISTED]]
    rest = len(errors) - len(told)
    return "; ".join(told) + (f" (and {rest} more)" if rest > 0 else "")


def _one(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    path, known = _walk(tuple(error.get("loc", ())), root)
    problem = _problem(error)
    if error.get("type") == "extra_forbidden" and known:
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close:
            problem += f" (did you mean {close[0]!r}?)"
    return f"{path}: {problem}"


def _problem(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    # pydantic's message states what was expected; the value itself is never shown.
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def _walk(loc: tuple[int | str, ...], root: type[BaseModel]) -> tuple[str, list[str]]:
    """The user's key path of ``loc``, and the keys known where its last part sits."""
    shown = ""
    current: Any = root
    known: list[str] = []
    for part in loc:
        current = _unwrap(current)
        members = _members(current)
        if members and isinstance(part, str):
            # A union member's name (a tag, or a type tried): not a key of the file.
            current = _member_named(members, part)
            continue
        if isinstance(part, int):
            shown += f"[{part}]"
            current = _item_type(current)
            continue
        shown = f"{shown}.{part}" if shown else part
        known, current = _key_of(current, part)
    return shown or "<root>", known


def _key_of(current: Any, key: str) -> tuple[list[str], Any]:
    """The keys a table of type ``current`` knows, and the type of its ``key``."""
    if isinstance(current, type) and issubclass(current, BaseModel):
        fields = current.model_fields
        names = [info.alias or name for name, info in fields.items()]
        for name, info in fields.items():
            if key in (name, info.alias):
                return names, info.annotation
        return names, None
    origin = typing.get_origin(current)
    if origin in (dict, Mapping):
        args = typing.get_args(current)
        return [], args[1] if len(args) == 2 else None
    return [], None


def _unwrap(current: Any) -> Any:
    """``current`` without ``Annotated`` and without ``None`` in an optional."""
    while typing.get_origin(current) is typing.Annotated:
        current = typing.get_args(current)[0]
    if _is_union(current):
        args = [a for a in typing.get_args(current) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return current


def _is_union(current: Any) -> bool:
    return typing.get_origin(current) in (typing.Union, types.UnionType)


def _members(current: Any) -> list[Any]:
    return [_unwrap(a) for a in typing.get_args(current)] if _is_union(current) else []


def _member_named(members: list[Any], part: str) -> Any:
    """The union member ``part`` names: by its tag literal, or by its type's name."""
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel):
            for info in member.model_fields.values():
                if typing.get_origin(info.annotation) is typing.Literal and part in typing.get_args(
                    info.annotation
                ):
                    return member
        if getattr(member, "__name__", None) == part:
            return member
    return None


def _item_type(current: Any) -> Any:
    args = typing.get_args(current)
    return args[0] if typing.get_origin(current) in (list, tuple) and args else None
