"""Go's ``json.MarshalIndent(v, "", "\\t")`` layout applied to compact Go-JSON text.

work_compat writes compact Go-JSON (``to_json()`` on every value, ``gojson`` for the rest); Go's
workwebui indents that same encoding with one TAB per level and ``": "`` after keys, keeps empty
objects and arrays as ``{}`` and ``[]``, and adds no trailing newline (protocol §7.2). Indenting the
compact text, as Go's ``json.Indent`` does, keeps every escape and number exactly as encoded.
"""

from __future__ import annotations

from collections.abc import Iterable

from work_compat import gojson

__all__ = ["array", "error_body", "indent", "obj"]


def indent(compact: str, unit: str = "\t") -> str:
    """Re-lay compact JSON text the way Go's MarshalIndent does (no prefix, no trailing newline)."""
    out: list[str] = []
    depth = 0
    pending = False  # an opener was written; the next token decides between "{}" and a new line
    in_string = False
    escaped = False
    for ch in compact:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch in " \t\r\n":
            continue
        if pending and ch not in "]}":
            out.append("\n" + unit * depth)
        if ch in "{[":
            out.append(ch)
            depth += 1
            pending = True
            continue
        if ch in "]}":
            depth -= 1
            if not pending:
                out.append("\n" + unit * depth)
            out.append(ch)
            pending = False
            continue
        pending = False
        if ch == ",":
            out.append(",\n" + unit * depth)
        elif ch == ":":
            out.append(": ")
        else:
            if ch == '"':
                in_string = True
            out.append(ch)
    return "".join(out)


def obj(pairs: Iterable[tuple[str, str]]) -> str:
    """A compact object from (key, already-encoded value) pairs, in the given order."""
    return "{" + ",".join(gojson.encode_string(k) + ":" + v for k, v in pairs) + "}"


def array(items: Iterable[str]) -> str:
    """A compact array of already-encoded values."""
    return "[" + ",".join(items) + "]"


def error_body(message: str) -> str:
    """Go's error layout, ``{"error": "<msg>"}`` on one line, but with the message escaped.

    The fork pastes the message in unescaped, which is invalid JSON for a message with ``"`` or
    ``\\`` (§7.2); everything else about the layout is kept.
    """
    return '{"error": ' + gojson.encode_string(message) + "}"
