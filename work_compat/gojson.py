"""Go ``encoding/json`` output, byte for byte, and a decoder that refuses what Go refuses.

Every value a Go peer compares by bytes goes through here: job JSON, unique keys, periodic members,
the observer's ``args`` (protocol §2.2). Python's own ``json.dumps`` differs from Go in three ways
that matter: floats (``2.0`` vs ``2``, ``1e-07`` vs ``1e-7``), HTML escaping (Go escapes ``<>&``
and U+2028/2029 everywhere), and invalid text (Go writes U+FFFD for bad UTF-8).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import EncodeError

try:  # the C helper escapes a str exactly as Go does, except for the HTML set handled below
    from _json import encode_basestring as _c_encode_str
except ImportError:  # pragma: no cover - PyPy and friends
    _c_encode_str = json.encoder.py_encode_basestring

__all__ = [
    "MAX_DEPTH",
    "check_depth",
    "dumps",
    "dumps_bytes",
    "encode_string",
    "encode_value",
    "format_float",
    "format_float_v",
    "loads",
    "to_bytes",
]

_HTML_RE = re.compile("[<>&\u2028\u2029]")
_HTML_ESC = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")
_DEPTH_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)

# Nesting Python code can always decode, re-encode and hand to a handler, whatever the caller's
# stack depth (the interpreter's recursion limit is 1000). Go's decoder accepts 10000; a job nested
# deeper than this is refused here with a DecodeError, so a worker buries it instead of dying.
MAX_DEPTH = 512


def check_depth(text: str) -> None:
    """Raise ValueError when JSON ``text`` nests arrays/objects more than MAX_DEPTH levels deep.

    Counting brackets is C-speed, so only texts with that many of them are scanned token by token.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for m in _DEPTH_TOKEN_RE.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"nested more than {MAX_DEPTH} levels deep (work_compat's limit)")
        elif c in "]}":
            depth -= 1


def _html_sub(m: re.Match[str]) -> str:
    return _HTML_ESC[m.group()]


def encode_string(s: str) -> str:
    """Quote ``s`` as Go does: short escapes for ``\\b \\f \\n \\r \\t``, HTML set as ``\\u00XX``."""
    out: str = _c_encode_str(s)
    # Five substring tests are faster than one regex search, and this runs for every string.
    if "<" in out or ">" in out or "&" in out or "\u2028" in out or "\u2029" in out:
        out = _HTML_RE.sub(_html_sub, out)
    return out


def format_float(x: float) -> str:
    """Format a float64 the way Go's encoding/json does (ECMAScript Number-to-String).

    Raises ValueError for NaN and infinities, which Go refuses to encode.
    """
    ax = abs(x)
    if ax.is_integer():
        if ax >= 9007199254740992.0:  # above 2**53 Go prints the shortest digits, not the exact value
            return _format_float_slow(x)
        if x == 0.0 and math.copysign(1.0, x) < 0:
            return "-0"
        return str(int(x))
    if 1e-4 <= ax < 1e16:
        return repr(x)  # positional and shortest here, the same digits Go picks
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"unsupported value: {x!r}")
    return _format_float_slow(x)


def shortest_digits(x: float) -> tuple[str, str, int]:
    """Split a finite non-zero float into (sign, shortest round-trip digits, decimal point).

    ``x == sign 0.DIGITS * 10**point``. Python's repr and Go's strconv pick the same digits.
    """
    r = repr(x)
    sign = ""
    if r[0] == "-":
        sign, r = "-", r[1:]
    mant, _, exp_s = r.partition("e")
    exp = int(exp_s) if exp_s else 0
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = (ip + fp).lstrip("0")
    e = exp - len(fp)  # value = int(digits) * 10**e
    stripped = digits.rstrip("0")
    e += len(digits) - len(stripped)
    return sign, stripped, len(stripped) + e


def _positional(sign: str, digits: str, point: int) -> str:
    n = len(digits)
    if point >= n:
        return sign + digits + "0" * (point - n)
    if point > 0:
        return sign + digits[:point] + "." + digits[point:]
    return sign + "0." + "0" * (-point) + digits


def _exponential(sign: str, digits: str, point: int, min_exp_digits: int) -> str:
    sci = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'+' if sci >= 0 else '-'}{abs(sci):0{min_exp_digits}d}"


def _format_float_slow(x: float) -> str:
    sign, digits, point = shortest_digits(x)
    if 1e-6 <= abs(x) < 1e21:
        return _positional(sign, digits, point)
    return _exponential(sign, digits, point, 1)


def format_float_v(x: float) -> str:
    """Format a float64 as Go's ``%v`` does (used in Go's error texts): ``1.234567e+06``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0.0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    sign, digits, point = shortest_digits(x)
    exp = point - 1
    if exp < -4 or exp >= 6:  # shortest %g switches to an exponent at 1e+06, as Go's fmt does
        return _exponential(sign, digits, point, 2)
    return _positional(sign, digits, point)


def encode_value(value: Any, path: str = "args") -> str:
    """Encode a JSON value (maps sorted by key, compact) as Go does for ``interface{}`` values.

    ``path`` names the value in the EncodeError raised for anything JSON cannot carry, or nested
    deeper than MAX_DEPTH (which no decoder here would take back).
    """
    try:
        text = _encode(value, path)
    except RecursionError:
        raise EncodeError(path, value, f"nested more than {MAX_DEPTH} levels deep") from None
    try:
        check_depth(text)
    except ValueError as err:
        raise EncodeError(path, value, str(err)) from None
    return text


def _encode(value: Any, path: str) -> str:
    t = type(value)
    if t is str:
        return encode_string(value)
    if t is dict:
        if not value:
            return "{}"
        try:
            keys = sorted(value)
        except TypeError:
            keys = _bad_keys(value, path)
        parts: list[str] = []
        append = parts.append
        for k in keys:
            if type(k) is not str:
                _bad_keys(value, path)
            v = value[k]
            tv = type(v)
            # Strings and ints inline: no path is built unless a value may fail to encode.
            if tv is str:
                append(_encode_key(k) + encode_string(v))
            elif tv is int:
                append(_encode_key(k) + int.__repr__(v))
            else:
                append(_encode_key(k) + _encode(v, f"{path}[{k!r}]"))
        return "{" + ",".join(parts) + "}"
    if t is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if t is bool:
        return "true" if value else "false"
    if t is float:
        try:
            return format_float(value)
        except ValueError:
            raise EncodeError(path, value, "NaN and infinities cannot be encoded as JSON") from None
    if t is list or t is tuple:
        items = []  # a loop, not a generator: one stack frame per level of nesting, not two
        for i, v in enumerate(value):
            items.append(_encode(v, f"{path}[{i}]"))
        return "[" + ",".join(items) + "]"
    return _encode_subclass(value, path)


_KEY_CACHE: dict[str, str] = {}
_KEY_CACHE_MAX = 4096


def _encode_key(k: str) -> str:
    """``"key":`` for an object key; the same few keys recur in every job, so they are cached."""
    encoded = _KEY_CACHE.get(k)
    if encoded is None:
        encoded = encode_string(k) + ":"
        if len(_KEY_CACHE) < _KEY_CACHE_MAX:
            _KEY_CACHE[k] = encoded
    return encoded


def _bad_keys(d: Mapping[Any, Any], path: str) -> list[str]:
    keys = []
    for k in d:
        if not isinstance(k, str):
            raise EncodeError(path, k, f"object keys must be str, got {type(k).__name__} key {k!r}")
        keys.append(str(k))
    return sorted(keys)


def _encode_subclass(value: Any, path: str) -> str:
    # Subclasses (IntEnum, OrderedDict, str-based enums, Mapping views) encode as their base type.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return encode_string(str.__str__(value))
    if isinstance(value, int):
        return int.__repr__(int(value))
    if isinstance(value, float):
        return _encode(float(value), path)
    if isinstance(value, Mapping):
        return _encode({k: value[k] for k in _bad_keys(value, path)}, path)
    if isinstance(value, (list, tuple)):
        return _encode(list(value), path)
    raise EncodeError(path, value, f"a {type(value).__name__} cannot be encoded as JSON")


def dumps(value: Any, path: str = "args") -> str:
    """Encode ``value`` as Go-JSON text (compact, sorted keys, HTML-escaped)."""
    return encode_value(value, path)


def to_bytes(text: str) -> bytes:
    """UTF-8 encode Go-JSON text; lone surrogates become ``\\ufffd`` as Go writes for bad UTF-8."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE_RE.sub("\\\\ufffd", text).encode("utf-8")


def dumps_bytes(value: Any, path: str = "args") -> bytes:
    """Encode ``value`` as Go-JSON bytes."""
    return to_bytes(encode_value(value, path))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # Go's ParseFloat reports a range error; Python would make it inf
        raise ValueError(f"number {text[:40]} is out of the float64 range")
    return value


def _int_or_negative_zero(text: str) -> int | float:
    return -0.0 if text == "-0" else int(text)


# made once: one is built per call otherwise
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_parse_float)
# "-0" is a float64 negative zero to Go (encoded back as "-0"); Python's int would drop the sign.
_NEGATIVE_ZERO_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_float=_parse_float, parse_int=_int_or_negative_zero
)


def loads(data: bytes | str) -> Any:
    """Parse JSON as Go would: invalid UTF-8 and lone UTF-16 surrogates become U+FFFD; NaN and
    Infinity literals, out-of-range numbers and nesting deeper than MAX_DEPTH are refused; a ``-0``
    stays a negative zero (a float), so it is written back as ``-0``.

    Raises ValueError (json.JSONDecodeError for syntax) and nothing else, whatever the bytes.
    """
    try:
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data).decode("utf-8", "replace")
        check_depth(data)
        value = (_NEGATIVE_ZERO_DECODER if "-0" in data else _DECODER).decode(data)
    except RecursionError:  # a deep stack at the call; MAX_DEPTH leaves room for the usual ones
        raise ValueError("nested too deeply for this call stack") from None
    except MemoryError:
        raise ValueError(f"too large to decode in memory ({len(data)} characters)") from None
    if _SURROGATE_ESCAPE_RE.search(data) is not None:
        value = _replace_surrogates(value)
    return value


def _replace_surrogates(value: Any) -> Any:
    """Lone ``\\udXXX`` escapes as Go decodes them: U+FFFD (Python keeps the bare surrogate)."""
    t = type(value)
    if t is str:
        return _SURROGATE_RE.sub("\ufffd", value)
    if t is dict:
        return {_SURROGATE_RE.sub("\ufffd", k): _replace_surrogates(v) for k, v in value.items()}
    if t is list:
        return [_replace_surrogates(v) for v in value]
    return value
