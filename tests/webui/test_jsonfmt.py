"""The Go MarshalIndent layout applied to compact Go-JSON."""

from __future__ import annotations

import json

from webui.jsonfmt import error_body, indent


def test_nested_values_get_one_tab_per_level_and_no_trailing_newline() -> None:
    compact = '{"a":[1,{}],"b":"x,{y}:\\"z\\\\","c":{"d":[]},"e":null}'
    assert indent(compact) == (
        '{\n\t"a": [\n\t\t1,\n\t\t{}\n\t],\n\t"b": "x,{y}:\\"z\\\\",\n\t"c": {\n\t\t"d": []\n\t},\n\t"e": null\n}'
    )
    assert json.loads(indent(compact)) == json.loads(compact)


def test_scalars_and_empty_containers_stay_as_they_are() -> None:
    assert indent("null") == "null"
    assert indent("[]") == "[]"
    assert indent("{}") == "{}"
    assert indent('"\\u003c"') == '"\\u003c"'
    assert indent("[[]]") == "[\n\t[]\n]"


def test_error_bodies_keep_gos_layout_but_are_valid_json() -> None:
    body = error_body('strconv.ParseUint: parsing "x": invalid syntax <\\>')
    assert body == '{"error": "strconv.ParseUint: parsing \\"x\\": invalid syntax \\u003c\\\\\\u003e"}'
    assert json.loads(body) == {"error": 'strconv.ParseUint: parsing "x": invalid syntax <\\>'}
