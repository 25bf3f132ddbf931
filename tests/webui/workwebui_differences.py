"""The answers of the fork's workwebui that ours does not copy, on purpose, each with both answers.

docs/dashboard.md has the table ("Where the dashboard differs from workwebui, on purpose"); each
entry's ``row`` is the first cell of its row there. The path may name an entry of the test world
(``{dead_go_score}``); ``keys`` says how the keys left by the two servers compare (see the test).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
BAD_SPEC = "invalid cron spec 'every day': spec: expected 5 or 6 fields, found 2 (periodic schedule 'bad')"


class Prefix(bytes):
    """A body that starts with these bytes (an HTML page: Go's SPA, our pages)."""


@dataclass(frozen=True)
class Differs:
    """A request both servers answer differently on purpose; ``row`` names its row in the docs table."""

    row: str
    method: str
    path: str
    go: tuple[int, str, bytes]
    ours: tuple[int, str, bytes]
    body: bytes | None = None
    keys: str = "same"  # "same", "go only" (Go changed keys, ours refused), or a check's name below


def err(message: str) -> bytes:
    return b'{"error": "' + message.encode() + b'"}'


SPA = Prefix(b"<!DOCTYPE html>")
NOT_ALLOWED = (405, TEXT, b"Method Not Allowed\n")
BAD_PAGES = {
    "-1": 'strconv.ParseUint: parsing "-1": invalid syntax',
    "abc": 'strconv.ParseUint: parsing "abc": invalid syntax',
    "%2B1": 'strconv.ParseUint: parsing "+1": invalid syntax',
    "1.5": 'strconv.ParseUint: parsing "1.5": invalid syntax',
    "%201": 'strconv.ParseUint: parsing " 1": invalid syntax',
    "99999999999999999999": 'strconv.ParseUint: parsing "99999999999999999999": value out of range',
    "461168601842738792": "ERR value is not an integer or out of range",  # Redis's answer to the offset
}
PAGE_ROW = "GET /api/{retry,scheduled,dead,history}_jobs?page=<bad>"
DIFFERENCES: list[Differs] = [
    *(
        Differs(
            PAGE_ROW,
            "GET",
            f"/api/{which}_jobs?page={raw}",
            (500, JSON, err(go)),
            (400, JSON, err(f"invalid page {unquote(raw)!r}: want a page number from 1")),
        )
        for which in ("retry", "scheduled", "dead", "history")
        for raw, go in BAD_PAGES.items()
    ),
    Differs(
        "GET /api/history_jobs?job_name=index",
        "GET",
        "/api/history_jobs?job_name=index",
        (500, JSON, err("WRONGTYPE Operation against a key holding the wrong kind of value")),
        (200, JSON, b'{\n\t"count": 0,\n\t"jobs": []\n}'),
    ),
    *(
        Differs(
            "POST /api/{delete,retry}_dead_job, delete_{scheduled,retry}_job with a bad score",
            "POST",
            f"/api/{route}/{raw}/x",
            (500, JSON, err(f'strconv.ParseInt: parsing "{raw}": {why}')),
            (400, JSON, err(f"invalid {name} '{raw}': want a base-10 integer")),
        )
        for route, name in (
            ("delete_dead_job", "died_at"),
            ("retry_dead_job", "died_at"),
            ("delete_scheduled_job", "run_at"),
            ("delete_retry_job", "retry_at"),
        )
        for raw, why in (("x", "invalid syntax"), ("9223372036854775808", "value out of range"))
    ),
    *(
        Differs(
            "POST /api/{delete,retry}_dead_job, delete_{scheduled,retry}_job of a job that is not there",
            "POST",
            f"/api/{route}/{{{ref}_score}}/unknown-id",
            (500, JSON, err(message)),
            (409, JSON, err(message)),
        )
        for route, ref, message in (
            ("delete_dead_job", "dead_go", "nothing deleted"),
            ("retry_dead_job", "dead_go", "nothing retried"),
            ("delete_scheduled_job", "sched_go", "nothing deleted"),
            ("delete_retry_job", "retry_go", "nothing deleted"),
        )
    ),
    Differs(
        "POST /api/retry_dead_job of a job whose name no pool registered",
        "POST",
        "/api/retry_dead_job/{dead_ghost}",
        (500, JSON, err("nothing retried")),
        (409, JSON, err("nothing retried")),
    ),
    Differs(
        "POST /api/delete_scheduled_job of a job made unique by a key map",
        "POST",
        "/api/delete_scheduled_job/{sched_bykey}",
        (200, JSON, b'{\n\t"status": "ok"\n}'),
        (200, JSON, b'{\n\t"status": "ok"\n}'),
        keys="by-key lock",
    ),
    *(
        Differs(
            "POST /api/periodic_schedules/{name}/enable|disable of no schedule",
            "POST",
            f"/api/periodic_schedules/nope/{action}",
            (500, JSON, err("redigo: nil returned")),
            (404, JSON, err("no periodic schedule named 'nope'")),
        )
        for action in ("enable", "disable")
    ),
    *(
        Differs(
            "DELETE /api/periodic_schedules/{name} and POST .../disable of a schedule whose next runs are scheduled",
            method,
            path,
            (200, JSON, b'{\n\t"status": "ok"\n}'),
            (200, JSON, b'{\n\t"status": "ok"\n}'),
            keys="instances removed",
        )
        for method, path in (
            ("DELETE", "/api/periodic_schedules/py-minutely"),
            ("POST", "/api/periodic_schedules/py-minutely/disable"),
        )
    ),
    Differs(
        "POST /api/periodic_schedules/{name}/enable|disable of a schedule with big numbers in its args",
        "POST",
        "/api/periodic_schedules/py-newyear/disable",
        (200, JSON, b'{\n\t"status": "ok"\n}'),
        (200, JSON, b'{\n\t"status": "ok"\n}'),
        keys="args kept",
    ),
]
SCHEDULE_ROW = "POST /api/periodic_schedules with a body no pool can run"
ENQUEUE_ROW = "POST /api/enqueue with a bad body"
DIFFERENCES += [
    Differs(
        SCHEDULE_ROW,
        "POST",
        "/api/periodic_schedules",
        (500, JSON, err("unexpected EOF")),
        (
            400,
            JSON,
            err(
                "request body is not a periodic schedule: "
                "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
            ),
        ),
        body=b"{",
    ),
    Differs(
        SCHEDULE_ROW,
        "POST",
        "/api/periodic_schedules",
        (500, JSON, err("json: cannot unmarshal number into Go struct field PeriodicSchedule.name of type string")),
        (400, JSON, err("request body is not a periodic schedule: periodic schedule field 'name' must be str")),
        body=b'{"name": 5}',
    ),
    Differs(
        SCHEDULE_ROW,
        "POST",
        "/api/periodic_schedules",
        (200, JSON, b'{\n\t"status": "ok"\n}'),
        (400, JSON, err(BAD_SPEC)),
        body=b'{"name": "bad", "job_name": "report", "spec": "every day", "enabled": true}',
        keys="go only",
    ),
    Differs(
        SCHEDULE_ROW,
        "POST",
        "/api/periodic_schedules",
        (200, JSON, b'{\n\t"status": "ok"\n}'),
        (400, JSON, err("a periodic schedule needs a name")),
        body=b'{"job_name": "report", "spec": "0 0 3 * * *"}',
        keys="go only",
    ),
    Differs(
        SCHEDULE_ROW,
        "POST",
        "/api/periodic_schedules",
        (200, JSON, b'{\n\t"status": "ok"\n}'),
        (400, JSON, err("request body is not a periodic schedule: Extra data: line 1 column 60 (char 59)")),
        body=b'{"name": "t", "job_name": "report", "spec": "0 0 3 * * *"} trailing',
        keys="go only",
    ),
    Differs(
        SCHEDULE_ROW,
        "POST",
        "/api/periodic_schedules",
        (
            500,
            JSON,
            err(
                "json: cannot unmarshal number 99999999999999999999"
                " into Go struct field PeriodicSchedule.created_at of type int64"
            ),
        ),
        (
            400,
            JSON,
            err("request body is not a periodic schedule: periodic schedule field 'created_at' is beyond int64"),
        ),
        body=b'{"name": "t", "job_name": "report", "spec": "0 0 3 * * *", "created_at": 99999999999999999999}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (500, JSON, err("invalid character 'x' looking for beginning of value")),
        (400, JSON, err("request body is not valid JSON: Expecting value: line 1 column 1 (char 0)")),
        body=b"x",
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (500, JSON, err("EOF")),
        (400, JSON, err("request body is not valid JSON: Expecting value: line 1 column 1 (char 0)")),
        body=b"",
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (500, JSON, err("job_name is required")),
        (400, JSON, err("job_name is required")),
        body=b'{"args": {"a": 1}}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (
            500,
            JSON,
            err(
                "json: cannot unmarshal array into Go struct field enqueueRequest.args of type map[string]interface {}"
            ),
        ),
        (400, JSON, err("args must be a JSON object")),
        body=b'{"job_name": "mail", "args": [1]}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (500, JSON, err("json: cannot unmarshal number 1.5 into Go struct field enqueueRequest.delay of type int64")),
        (400, JSON, err("delay must be an integer")),
        body=b'{"job_name": "mail", "delay": 1.5}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (
            500,
            JSON,
            err(
                "json: cannot unmarshal string into Go struct field enqueueRequest.retry"
                " of type webui.enqueueRetryRequest"
            ),
        ),
        (400, JSON, err("retry must be a JSON object")),
        body=b'{"job_name": "mail", "retry": "yes"}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (500, JSON, err("json: cannot unmarshal number 1e3 into Go struct field enqueueRequest.delay of type int64")),
        (400, JSON, err("delay must be an integer")),
        body=b'{"job_name": "mail", "delay": 1e3}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (500, JSON, err("json: cannot unmarshal number 1.0 into Go struct field enqueueRequest.delay of type int64")),
        (400, JSON, err("delay must be an integer")),
        body=b'{"job_name": "mail", "delay": 1.0}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (
            500,
            JSON,
            err(
                "json: cannot unmarshal number 99999999999999999999"
                " into Go struct field enqueueRequest.delay of type int64"
            ),
        ),
        (400, JSON, err("delay must be an integer")),
        body=b'{"job_name": "mail", "delay": 99999999999999999999}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (500, JSON, err("json: cannot unmarshal bool into Go struct field enqueueRequest.delay of type int64")),
        (400, JSON, err("delay must be an integer")),
        body=b'{"job_name": "mail", "delay": true}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (
            500,
            JSON,
            err("json: cannot unmarshal number into Go struct field enqueueRetryRequest.retry.strategy of type string"),
        ),
        (400, JSON, err("retry.strategy must be a string: exponential, linear or fixed")),
        body=b'{"job_name": "mail", "retry": {"strategy": 1}}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (
            500,
            JSON,
            err(
                "json: cannot unmarshal string into Go struct field enqueueRetryRequest.retry.max_retries of type int64"
            ),
        ),
        (400, JSON, err("retry.max_retries must be an integer")),
        body=b'{"job_name": "mail", "retry": {"max_retries": "3"}}',
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (500, JSON, err("job_name is required")),
        (400, JSON, err("request body must be a JSON object")),
        body=b"null",
    ),
    Differs(
        ENQUEUE_ROW,
        "POST",
        "/api/enqueue",
        (200, JSON, Prefix(b'{\n\t"name": "mail",')),
        (400, JSON, err("request body is not valid JSON: Extra data: line 1 column 22 (char 21)")),
        body=b'{"job_name": "mail"} x',
        keys="go only",
    ),
    Differs(
        "POST /api/enqueue of a job name that breaks the key layout",
        "POST",
        "/api/enqueue",
        (200, JSON, Prefix(b'{\n\t"name": "a:lock",')),
        (400, JSON, err("invalid job name 'a:lock': ':' would make its keys collide with other jobs' keys")),
        body=b'{"job_name": "a:lock"}',
        keys="go only",
    ),
    Differs("GET / and the pages", "GET", "/", (200, HTML, SPA), (200, HTML, Prefix(b"<!doctype html>"))),
    *(
        Differs("GET of a path no route has", "GET", path, (200, HTML, SPA), (404, JSON, err("not found")))
        for path in ("/nope", "/api/queues/", "/api/nope")
    ),
    Differs(
        "GET of a POST-only API path",
        "GET",
        "/api/delete_all_dead_jobs",
        (200, HTML, SPA),
        (405, JSON, err("method not allowed")),
    ),
    *(
        Differs(
            "A route called with a method it does not take",
            method,
            path,
            NOT_ALLOWED,
            (405, JSON, err("method not allowed")),
        )
        for method, path in (("PUT", "/api/queues"), ("POST", "/api/dashboard"), ("DELETE", "/api/enqueue"))
    ),
    *(
        Differs("POST or DELETE of a path no route has", method, path, NOT_ALLOWED, (404, JSON, err("not found")))
        for method, path in (
            ("POST", "/api/delete_dead_job/1"),
            ("POST", "/nope"),
            ("DELETE", "/api/periodic_schedules/a/b"),
        )
    ),
    Differs(
        "A path with `//`, `/./` or `/../`",
        "GET",
        "/api//queues",
        (307, HTML, b'<a href="/api/queues">Temporary Redirect</a>.\n\n'),
        (404, JSON, err("not found")),
    ),
]
