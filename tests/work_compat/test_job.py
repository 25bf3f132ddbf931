"""Job JSON: what Go's decoder accepts and refuses, what Lua moves leave, the Arg* helpers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from work_compat import DecodeError, HistoryJob, Job, decode_job, make_identifier

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"


def test_ids_are_24_lowercase_hex_and_distinct() -> None:
    ids = {make_identifier() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)


def test_encoding_follows_go_field_order_and_omitempty() -> None:
    job = Job(name="opt", id="e517912ad5498c40521b207b", enqueued_at=1795821851, args={"z": 1})
    job.fails, job.last_err, job.failed_at = 1, 'boom "quoted"', 1795821852
    job.max_retries, job.backoff_base, job.backoff_type = 2, 7, 2
    assert job.to_json() == (
        '{"name":"opt","id":"e517912ad5498c40521b207b","t":1795821851,"args":{"z":1},"fails":1,'
        '"err":"boom \\"quoted\\"","failed_at":1795821852,"max_retries":2,"backoff_base":7,"backoff_type":2}'
    )
    # the fork's pointers are written when set, even to 0; absent when None
    zero = Job(name="n", id="i", enqueued_at=1, args=None, max_retries=0)
    assert zero.to_json() == '{"name":"n","id":"i","t":1,"args":null,"max_retries":0}'
    assert Job(name="", id="i", enqueued_at=0).to_json() == '{"id":"i","t":0,"args":null}'


def test_decoding_matches_keys_case_insensitively_and_treats_null_as_zero() -> None:
    job = decode_job(b'{"NAME":"a","Id":"x","T":5,"args":null,"unique":null,"fails":null,"ERR":"e"}')
    assert (job.name, job.id, job.enqueued_at, job.args, job.unique, job.fails, job.last_err) == (
        "a",
        "x",
        5,
        None,
        False,
        0,
        "e",
    )


def test_unknown_fields_are_kept_and_written_back_after_known_ones() -> None:
    raw = b'{"name":"a","id":"x","t":1,"args":{},"celery":{"retries":2},"zz":[1]}'
    job = decode_job(raw)
    assert job.extra == {"celery": {"retries": 2}, "zz": [1]}
    assert job.to_bytes() == raw


def test_what_a_lua_move_leaves_is_accepted() -> None:
    # cjson: key order changed, "\/" escapes, %.14g numbers, [] turned into {}, raw HTML characters
    raw = (
        b'{"args":{"list":{},"big":9.007199254741e+15,"u":"a\\/b<&>","small":1e-07},'
        b'"t":1795821857,"id":"x","name":"vec_echo"}'
    )
    job = decode_job(raw)
    assert job.args == {"list": {}, "big": 9007199254741000.0, "u": "a/b<&>", "small": 1e-7}
    assert job.to_json() == (
        '{"name":"vec_echo","id":"x","t":1795821857,"args":{"big":9007199254741000,"list":{},"small":1e-7,'
        '"u":"a/b\\u003c\\u0026\\u003e"}}'
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1,2]", "a job is a JSON object, got array"),
        (b'{"name":"a","id":"x","t":1.7e9,"args":{}}', "field 't' must be a JSON int64, got 1700000000"),
        (b'{"name":"a","id":"x","t":1700000000.0,"args":{}}', "field 't' must be a JSON int64"),
        (b'{"name":"a","id":"x","t":"1700000000","args":{}}', "field 't' must be a JSON int64, got string"),
        (b'{"name":"a","id":"x","t":1,"args":[1]}', "field 'args' must be a JSON object, got array"),
        (b'{"name":"a","id":"x","t":1,"args":"s"}', "field 'args' must be a JSON object, got string"),
        (b'{"name":5,"id":"x","t":1,"args":{}}', "field 'name' must be a JSON string"),
        (b'{"name":"a","id":"x","t":1,"args":{},"unique":"yes"}', "field 'unique' must be a JSON bool"),
        (b'{"name":"a","id":"x","t":1,"args":{},"fails":1e0}', "field 'fails' must be a JSON int64"),
        (b'{"name":"a","id":"x","t":99999999999999999999,"args":{}}', "field 't' must be a JSON int64"),
        (b'{"name":"a","id":"x","t":1,"args":{"n":NaN}}', "not JSON"),
    ],
)
def test_what_go_refuses_is_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode_job(raw)
    assert reason in str(err.value)
    assert err.value.data == raw


def test_invalid_utf8_decodes_to_replacement_characters_as_in_go() -> None:
    job = decode_job(b'{"name":"a","id":"x","t":1,"args":{"s":"\xff\xfe"}}')
    assert job.args == {"s": "\ufffd\ufffd"}


def test_history_documents_round_trip() -> None:
    text = (
        '{"completed_at":1795821852,"status":"retry","name":"opt","id":"e517","t":1795821851,"args":{"z":1},'
        '"fails":1,"err":"boom","failed_at":1795821852,"max_retries":2,"backoff_base":7,"backoff_type":2}'
    )
    h = HistoryJob.from_json(text)
    assert (h.completed_at, h.status, h.job.name, h.job.extra) == (1795821852, "retry", "opt", {})
    assert h.to_json() == text


# -- Arg* helpers: the getter results Go recorded in the fork's worker-pool vector ------------------


def _echo_calls() -> list[dict[str, Any]]:
    vec = json.loads((VECTORS / "fork-keys.json").read_text())
    return [c for c in vec["phase2_worker_pool"]["handler_calls"] if "getters" in c]


def test_arg_helpers_reproduce_go_results_from_the_vectors() -> None:
    calls = _echo_calls()
    assert calls
    for call in calls:
        job = Job(name=call["name"], id=call["id"], enqueued_at=call["t"], args=_as_go_floats(call["args"]))
        getters = call["getters"]
        for label, expected in getters.items():
            if label == "ArgError":
                continue
            method, key = re.fullmatch(r"Arg(\w+)\((\w+)\)", label).groups()  # type: ignore[union-attr]
            assert getattr(job, "arg_" + method.lower())(key) == expected, label
        assert str(job.arg_error()) == getters["ArgError"]


def _as_go_floats(v: Any) -> Any:
    """A Go worker holds decoded numbers as float64."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dict):
        return {k: _as_go_floats(x) for k, x in v.items()}
    return [_as_go_floats(x) for x in v]


def test_arg_helper_errors_use_gos_words() -> None:
    job = Job(name="n", id="i", enqueued_at=0, args={"s": "x", "f": 2.5, "m": {"b": 1, "a": "x"}, "l": [1, None]})
    assert job.arg_string("missing") == "" and str(job.arg_error()) == (
        "looking for a string in job.Arg[missing] but key wasn't found"
    )
    assert job.arg_int64("f") == 0 and str(job.arg_error()) == (
        "looking for a int64 in job.Arg[f] but value wasn't right type: float64(2.5)"
    )
    assert job.arg_bool("m") is False and str(job.arg_error()) == (
        "looking for a bool in job.Arg[m] but value wasn't right type: map[string]interface {}(map[a:x b:1])"
    )
    assert job.arg_float64("l") == 0.0 and str(job.arg_error()) == (
        "looking for a float64 in job.Arg[l] but value wasn't right type: []interface {}([1 <nil>])"
    )
    assert job.arg_string("s") == "x"  # a success leaves the last error in place, as in Go
    assert job.arg_error() is not None
    nil_args = Job(name="n", id="i", enqueued_at=0, args=None)
    assert nil_args.arg_int64("k") == 0 and "key wasn't found" in str(nil_args.arg_error())


def test_arg_int64_bounds() -> None:
    job = Job(
        name="n",
        id="i",
        enqueued_at=0,
        args={"ok": 9007199254740892.0, "over": 9007199254740893.0, "i": 2**62, "b": True},
    )
    assert job.arg_int64("ok") == 9007199254740892
    assert job.arg_int64("over") == 0 and job.arg_error() is not None
    assert job.arg_int64("i") == 2**62  # an integer read exactly from JSON is kept exactly
    assert job.arg_int64("b") == 0 and "bool(true)" in str(job.arg_error())
    assert job.arg_float64("b") == 0.0
