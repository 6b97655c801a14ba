"""Mender's `${…}` substitution, on its own."""

from __future__ import annotations

import json

from swamp.mender.substitute import (
    Scope,
    find,
    lookup,
    path_problem,
    substitute,
    substitute_json,
)

DEVICES = json.dumps(
    {
        "id": "d-1",
        "count": 3,
        "ratio": 2.0,
        "ok": True,
        "tags": ["a", "b"],
        "owner": {"name": "Ann", "groups": [{"name": "ops"}, {"name": "dev"}]},
        "empty": "",
        "none": None,
    }
)


def scope(**inputs: object) -> Scope:
    return Scope(
        inputs,
        {"REGION": "eu-west", "BLANK": ""},
        {"lookup": DEVICES, "script": '{"token": "t-9"}\n', "plain": "not json"},
    )


def test_inputs_with_defaults_and_missing_values() -> None:
    s = scope(device_id="d-1", empty="")
    assert substitute("/devices/${workflow.input.device_id}", s) == "/devices/d-1"
    assert substitute("${workflow.input.missing|fallback}", s) == "fallback"
    assert substitute("[${workflow.input.missing}]", s) == "[]"
    # A present input is used even when empty; only a missing one takes the default.
    assert substitute("[${workflow.input.empty|fallback}]", s) == "[]"


def test_list_input_is_joined_with_commas_and_scalars_are_written_as_json() -> None:
    s = scope(ids=["a", "b", 3], n=5, flag=False, obj={"b": 1, "a": [1.0]})
    assert substitute("ids=${workflow.input.ids}", s) == "ids=a,b,3"
    assert substitute("${workflow.input.n} ${workflow.input.flag}", s) == "5 false"
    assert substitute("${workflow.input.obj}", s) == '{"a":[1],"b":1}'


def test_encodings() -> None:
    s = scope(q="a b&c/d", html="<b>\"Tom\" & 'Jerry'</b>")
    assert substitute("?q=${encoding=url;workflow.input.q}", s) == "?q=a+b%26c%2Fd"
    assert substitute("${encoding=html;workflow.input.html}", s) == (
        "&lt;b&gt;&#34;Tom&#34; &amp; &#39;Jerry&#39;&lt;/b&gt;"
    )
    # Without an option an input is sent as it is, in a URI too (Mender's
    # ProcessJobString encodes only on request) ...
    assert substitute("/x/${workflow.input.q}", s) == "/x/a b&c/d"
    assert substitute("/x/${encoding=plain;workflow.input.q}", s) == "/x/a b&c/d"
    # ... and the encoding applies to a default as well (Encoding.Apply runs last).
    assert substitute("/${encoding=url;workflow.input.nope|def ault/x}", s) == "/def+ault%2Fx"
    assert substitute("${encoding=html;env.UNSET|<i>}", s) == "&lt;i&gt;"


def test_environment_variables() -> None:
    s = scope()
    assert substitute("${env.REGION}", s) == "eu-west"
    assert substitute("${env.BLANK|none}-${env.UNSET|unset}-${env.UNSET}", s) == "none-unset-"


def test_earlier_task_json_paths_including_array_indices() -> None:
    s = scope()
    assert substitute("${lookup.json.id}", s) == "d-1"
    assert substitute("${lookup.json.owner.groups.[1].name}", s) == "dev"
    assert substitute("${lookup.json.owner.groups[0].name}", s) == "ops"
    assert substitute("${lookup.json.tags.[0]}", s) == "a"
    assert substitute("${lookup.json.count} ${lookup.json.ratio} ${lookup.json.ok}", s) == (
        "3 2 true"
    )
    assert substitute("${lookup.json.tags}", s) == '["a","b"]'
    assert substitute("${lookup.json.owner.groups.[0]}", s) == '{"name":"ops"}'
    assert substitute("${script.json.token}", s) == "t-9"


def test_missing_json_values_take_the_default() -> None:
    s = scope()
    assert substitute("[${lookup.json.nope|d}]", s) == "[d]"
    assert substitute("[${lookup.json.empty|d}]", s) == "[d]"
    assert substitute("[${lookup.json.none}]", s) == "[]"
    assert substitute("[${lookup.json.tags.[5]|d}]", s) == "[d]"
    assert substitute("[${plain.json.id|d}]", s) == "[d]"


def test_names_mender_does_not_know_become_their_default_or_nothing() -> None:
    # ProcessJobString starts from the default and replaces the whole match.
    s = scope(x="1")
    assert substitute("echo ${HOME} ${workflow.input} ${later.json.id} ${X|d}", s) == ("echo    d")
    # An option Mender does not know is ignored; an empty default or a `;` in
    # the name is no reference at all (Mender's pattern does not match).
    assert substitute("${foo=bar;workflow.input.x}", s) == "1"
    assert substitute("${workflow.input.x|} ${a;b}", s) == "${workflow.input.x|} ${a;b}"


def test_values_are_never_substituted_twice() -> None:
    s = scope(a="${workflow.input.b}", b="secret")
    assert substitute("${workflow.input.a}", s) == "${workflow.input.b}"
    assert substitute_json({"v": "${workflow.input.a}"}, s) == {"v": "${workflow.input.b}"}


def test_json_bodies_keep_the_type_of_a_whole_input() -> None:
    s = scope(device={"id": "d-1", "tags": ["x"]}, n=3, ids=["a", "b"])
    body = {
        "device": "${workflow.input.device}",
        "count": "${workflow.input.n}",
        "ids": "${workflow.input.ids}",
        "missing": "${workflow.input.nope}",
        "defaulted": "${workflow.input.nope|none}",
        "given_with_default": "${workflow.input.n|none}",
        "two": "${workflow.input.n}-${workflow.input.n}",
        "encoded": "${encoding=url;workflow.input.n}",
        "text": "ids: ${workflow.input.ids}",
        "nested": [{"id": "${lookup.json.id}"}, 7, None, True],
        "${workflow.input.n}": "keys are not substituted",
    }
    assert substitute_json(body, s) == {
        "device": {"id": "d-1", "tags": ["x"]},
        "count": 3,
        "ids": ["a", "b"],
        "missing": None,
        # ProcessJSON looks for an input named "nope|none": none, so null.
        "defaulted": None,
        "given_with_default": None,
        "two": None,
        "encoded": "3",
        "text": "ids: a,b",
        "nested": [{"id": "d-1"}, 7, None, True],
        "${workflow.input.n}": "keys are not substituted",
    }


def test_lookup_and_path_problems() -> None:
    doc = {"a": {"b": [{"c": 1}, [10, 20]]}}
    assert lookup(doc, "a.b.[0].c") == 1
    assert lookup(doc, "a.b.[1].[1]") == 20
    assert lookup(doc, "a.b[1][0]") == 10
    assert lookup(doc, "a.x") is None
    assert lookup(doc, "a.b.c") is None
    assert lookup(doc, "a..b") is None
    assert path_problem("a.b.[0].c") is None
    assert path_problem("") == "an empty JSON path"
    assert path_problem("a.[x]") == "a malformed JSON path 'a.[x]' (expected e.g. a.b.[0].c)"


def test_find_takes_references_apart() -> None:
    text = "${encoding=url;workflow.input.q|x} ${env.A} ${t.json.a.b} ${HOME} ${x=y;env.A}"
    text += " ${a.json.b.json.c}"  # Mender's `(.*)\\.json\\.(.*)` is greedy
    refs = list(find(text))
    assert [(r.kind, r.name, r.path, r.default, r.encoding, r.problem) for r in refs] == [
        ("input", "q", "", "x", "url", None),
        ("env", "A", "", None, None, None),
        ("task", "t", "a.b", None, None, None),
        ("", "HOME", "", None, None, None),
        ("env", "A", "", None, None, "unknown option 'x=y;'"),
        ("task", "a.json.b", "c", None, None, None),
    ]


def test_json_is_written_as_go_s_encoding_json_writes_it() -> None:
    from swamp.mender.substitute import go_json

    # encoding/json floatEncoder: 'f' unless abs < 1e-6 or >= 1e21, then 'e' with
    # the exponent's leading zero trimmed for negative exponents (e-07 -> e-7).
    numbers = [0, -0.0, 1, 2.0, 0.000001, 1e-7, -1.5e-7, 1e-10, 123.456, 1e20, 1e21, 1.5e300]
    assert [go_json(n) for n in numbers] == [
        "0",
        "-0",
        "1",
        "2",
        "0.000001",
        "1e-7",
        "-1.5e-7",
        "1e-10",
        "123.456",
        "100000000000000000000",
        "1e+21",
        "1.5e+300",
    ]
    # Every number is a float64 once Mender has decoded it.
    assert go_json(12345678901234567890) == "12345678901234567000"
    assert go_json(2**53 + 1) == "9007199254740992"
    # Strings (Go 1.22, which Mender's worker is built with): HTML characters,
    # U+2028/U+2029 and control characters escaped, \b and \f short, invalid
    # UTF-8 (a lone surrogate here) as U+FFFD, the rest as UTF-8.
    assert go_json("<a href='x'>&</a>") == "\"\\u003ca href='x'\\u003e\\u0026\\u003c/a\\u003e\""
    assert go_json('\u2028\u2029\x00\x1f\x7f\b\f\n\r\t"\\é') == (
        '"\\u2028\\u2029\\u0000\\u001f\x7f\\b\\f\\n\\r\\t\\"\\\\é"'
    )
    assert go_json("\ud800") == '"\\ufffd"'
    # Maps sorted by key, no spaces, null kept anywhere.
    assert go_json({"b": [None, {}], "a": {"z": None, "&": True}, "": []}) == (
        '{"":[],"a":{"\\u0026":true,"z":null},"b":[null,{}]}'
    )
