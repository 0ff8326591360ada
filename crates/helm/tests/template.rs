//! Go `text/template` semantics, from the behaviour documented for Go's `text/template` and
//! Helm's settings (missingkey=zero, `<no value>` for nil). Each row: template, data (YAML, ints
//! stay `int`), expected output or the start of the expected error.
#![allow(clippy::unwrap_used)]

use std::rc::Rc;

use keelson_helm::template::exec::Exec;
use keelson_helm::template::parse::TemplateSet;

fn run(src: &str, data: &str) -> Result<String, String> {
    let mut set = TemplateSet::new();
    set.add("t", src).map_err(|e| e.to_string())?;
    let data = keelson_helm::yaml::parse(data).unwrap();
    let mut out = String::new();
    Exec::new(Rc::new(set), keelson_helm::funcs::funcs())
        .execute("t", data, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn outputs() {
    let rows: &[(&str, &str, &str)] = &[
        // text, trimming, comments
        ("a {{- 1 -}} b", "", "a1b"),
        ("a {{1}} b", "", "a 1 b"),
        ("a\n  {{- /* c */ -}}\n  b", "", "ab"),
        ("{{/* only */}}x", "", "x"),
        ("{{-3}}", "", "-3"),
        // fields, maps, missing keys
        ("{{ .a.b }}", "a: {b: 1}", "1"),
        ("{{ .missing }}", "a: 1", "<no value>"),
        ("{{ .a }}", "a: [1, x, null]", "[1 x <nil>]"),
        (
            "{{ .a }}",
            "a: {z: 1, b: {c: true}}",
            "map[b:map[c:true] z:1]",
        ),
        ("{{ .a }}", "a: 1.5", "1.5"),
        ("{{ .a }}", "a: 1e6", "1e+06"),
        ("{{ $x := .missing }}{{ $x.foo }}", "a: 1", "<no value>"),
        // variables and scoping
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            "",
            "2",
        ),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
            "",
            "21",
        ),
        ("{{ with .a }}{{ $.b }}{{ . }}{{ end }}", "a: A\nb: B", "BA"),
        // if / else if / with / else
        (
            "{{ if .a }}y{{ else if .b }}b{{ else }}n{{ end }}",
            "b: 1",
            "b",
        ),
        (
            "{{ if 0 }}y{{ else }}n{{ end }}{{ if \"\" }}y{{ else }}n{{ end }}{{ if list }}y{{ else }}n{{ end }}",
            "",
            "nnn",
        ),
        (
            "{{ with .a }}{{ . }}{{ else }}none{{ end }}",
            "a: {}",
            "none",
        ),
        ("{{ with $v := .a }}{{ $v }}{{ end }}", "a: 3", "3"),
        // range
        (
            "{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}",
            "m: {b: 2, a: 1, c: 3}",
            "a=1;b=2;c=3;",
        ),
        (
            "{{ range $i, $v := .l }}{{ $i }}{{ $v }}{{ end }}",
            "l: [x, z]",
            "0x1z",
        ),
        (
            "{{ range .l }}{{ . }}{{ else }}empty{{ end }}",
            "l: []",
            "empty",
        ),
        ("{{ range 3 }}{{ . }}{{ end }}", "", "012"),
        (
            "{{ range .l }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "l: [1, 2, 3, 4, 5]",
            "13",
        ),
        ("{{ range $v := .l }}{{ $v }}{{ end }}", "l: [a, b]", "ab"),
        // define / template / block
        (
            "{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" 5 }}",
            "",
            "[5]",
        ),
        ("{{ block \"b\" . }}<{{ .a }}>{{ end }}", "a: 1", "<1>"),
        (
            "{{ define \"x\" }}{{ $ }}{{ end }}{{ template \"x\" .a }}",
            "a: 7",
            "7",
        ),
        // comparisons
        ("{{ eq 1 2 3 1 }}", "", "true"),
        ("{{ eq \"a\" \"a\" }} {{ ne 1 2 }}", "", "true true"),
        (
            "{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}",
            "",
            "true true true false",
        ),
        ("{{ eq .missing \"x\" }}", "", "false"),
        // and/or/not
        (
            "{{ and 1 0 2 }} {{ or 0 \"\" \"z\" }} {{ or 0 \"\" }} {{ not 0 }}",
            "",
            "0 z  true",
        ),
        ("{{ and 0 (fail \"not evaluated\") }}", "", "0"),
        ("{{ or 1 (fail \"not evaluated\") }}", "", "1"),
        // len, index, slice
        (
            "{{ len .l }} {{ len \"abc\" }} {{ len .m }}",
            "l: [1, 2]\nm: {a: 1}",
            "2 3 1",
        ),
        (
            "{{ index .l 1 }} {{ index .m \"a\" \"b\" }}",
            "l: [x, z]\nm: {a: {b: c}}",
            "z c",
        ),
        // YAML 1.1 booleans as yaml.v2 reads them
        ("{{ .l }}", "l: [y, n, yes, off]", "[true false true false]"),
        ("{{ index .m \"zz\" }}", "m: {a: 1}", "<no value>"),
        // pipelines and parentheses
        (
            "{{ \"abc\" | upper | printf \"%s-%s\" \"x\" }}",
            "",
            "x-ABC",
        ),
        ("{{ (list 1 2) | len }}", "", "2"),
        ("{{ (dict \"a\" (dict \"b\" 5)).a.b }}", "", "5"),
        // print family and fmt
        ("{{ print 1 2 \"a\" 3 }}", "", "1 2a3"),
        ("{{ println 1 \"a\" }}", "", "1 a\n"),
        (
            "{{ printf \"%d %5.2f %q %v %x %t %s\" 3 3.14159 \"q\" .m 255 true .l }}",
            "m: {a: 1}\nl: [a, b]",
            "3  3.14 \"q\" map[a:1] ff true [a b]",
        ),
        ("{{ printf \"%s\" 5 }}", "", "%!s(int=5)"),
        ("{{ printf \"%d\" }}", "", "%!d(MISSING)"),
        ("{{ printf \"%v\" nil }}", "", "<nil>"),
        (
            "{{ 'a' }} {{ 0x10 }} {{ 1_000 }} {{ 1.0 }}",
            "",
            "97 16 1000 1",
        ),
        ("{{ \"a\\tb\" }}{{ `raw\\n` }}", "", "a\tbraw\\n"),
    ];
    let mut failures = Vec::new();
    for (src, data, want) in rows {
        match run(src, data) {
            Ok(got) if got == *want => {}
            other => failures.push(format!(
                "{src:?} with {data:?}: want {want:?}, got {other:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn errors_are_located() {
    let rows: &[(&str, &str, &str)] = &[
        (
            "line1\n  {{ .a.b.c }}",
            "a: {}",
            "template: t:2:5: executing \"t\" at <.a.b.c>: nil pointer evaluating interface {}.c",
        ),
        (
            "{{ nofunc 1 }}",
            "",
            "template: t:1:3: executing \"t\" at <nofunc>: function \"nofunc\" not defined",
        ),
        ("{{ if 1 }}", "", "template: t:1: unexpected EOF"),
        ("{{ end }}", "", "template: t:1: unexpected {{end}}"),
        (
            "{{ template \"nope\" }}",
            "",
            "template: t:1:3: executing \"t\" at <template nope>: template \"nope\" not defined",
        ),
        (
            "{{ eq 1 \"a\" }}",
            "",
            "template: t:1:3: executing \"t\" at <eq>: error calling eq: incompatible types for comparison",
        ),
        (
            "{{ $x }}",
            "",
            "template: t:1:3: executing \"t\" at <$x>: undefined variable: $x",
        ),
        (
            "{{ index .l 5 }}",
            "l: [1]",
            "template: t:1:3: executing \"t\" at <index>: error calling index: index out of range: 5",
        ),
        (
            "{{ fail \"boom\" }}",
            "",
            "template: t:1:3: executing \"t\" at <fail>: error calling fail: HELM_ERR_STARTboomHELM_ERR_END",
        ),
    ];
    let mut failures = Vec::new();
    for (src, data, want) in rows {
        match run(src, data) {
            Err(e) if e.starts_with(want) => {}
            other => failures.push(format!(
                "{src:?}: want error starting {want:?}, got {other:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn sprig_and_helm_functions() {
    let rows: &[(&str, &str, &str)] = &[
        (
            "{{ default \"d\" .x }} {{ default \"d\" \"v\" }} {{ .x | default 5 }}",
            "x: \"\"",
            "d v 5",
        ),
        (
            "{{ quote \"a\" 1 }} {{ squote \"b\" }}",
            "",
            "\"a\" \"1\" 'b'",
        ),
        (
            "{{ \"a\\nb\" | indent 2 }}|{{ \"a\" | nindent 4 }}",
            "",
            "  a\n  b|\n    a",
        ),
        (
            "{{ trunc 3 \"abcdef\" }} {{ trunc -2 \"abcdef\" }} {{ trimSuffix \"-\" \"a-\" }}",
            "",
            "abc ef a",
        ),
        (
            "{{ toYaml .m }}",
            "m: {b: [1, 2], a: 'yes', c: {}}",
            "a: \"yes\"\nb:\n- 1\n- 2\nc: {}",
        ),
        (
            // yaml.v2 quotes strings that would read back as timestamps
            "{{ toYaml .m }}",
            "m: {a: 2024-04-01, b: '2024-4-1T10:00:00Z', c: '2024-13-01', d: '2023-02-29', e: '2024-02-29 1:2:3.5'}",
            "a: \"2024-04-01\"\nb: \"2024-4-1T10:00:00Z\"\nc: 2024-13-01\nd: 2023-02-29\ne: \"2024-02-29 1:2:3.5\"",
        ),
        (
            // go-yaml reads flow collections whose lines are indented no deeper than their opener
            "{{ (fromYaml .t).cmd }}",
            "t: \"cmd: [\\n  \\\"a\\\",\\n  \\\"b\\\"\\n]\\n\"",
            "[a b]",
        ),
        (
            "{{ toJson .m }}",
            "m: {b: '<x>', a: 1.5}",
            "{\"a\":1.5,\"b\":\"\\u003cx\\u003e\"}",
        ),
        (
            "{{ (fromYaml \"a: 1\").a }} {{ (fromJson \"{\\\"a\\\": [1]}\").a }}",
            "",
            "1 [1]",
        ),
        (
            "{{ $d := dict \"a\" 1 }}{{ $_ := set $d \"b\" 2 }}{{ $d }}",
            "",
            "map[a:1 b:2]",
        ),
        (
            "{{ merge (dict \"a\" 1) (dict \"a\" 2 \"b\" 3) }} {{ mergeOverwrite (dict \"a\" 1) (dict \"a\" 2) }}",
            "",
            "map[a:1 b:3] map[a:2]",
        ),
        (
            "{{ semverCompare \">=1.21-0\" \"v1.33.0\" }} {{ semverCompare \"<1.19\" \"1.33.0\" }}",
            "",
            "true false",
        ),
        (
            "{{ b64enc \"hi\" }} {{ sha256sum \"a\" | trunc 8 }} {{ sha1sum \"a\" | trunc 8 }}",
            "",
            "aGk= ca978112 86f7e437",
        ),
        (
            "{{ list 1 2 3 | last }} {{ first (list 1 2) }} {{ rest (list 1 2 3) }} {{ has 2 (list 1 2) }}",
            "",
            "3 1 [2 3] true",
        ),
        (
            "{{ splitList \",\" \"a,b\" | join \"-\" }} {{ keys (dict \"b\" 1 \"a\" 2) | sortAlpha }}",
            "",
            "a-b [a b]",
        ),
        (
            "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }} {{ regexMatch \"^v[0-9]\" \"v1\" }}",
            "",
            "-W-xxW- true",
        ),
        (
            "{{ add 1 2.5 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }} {{ max 1 5 3 }} {{ int \"42\" }} {{ float64 \"1.5\" }}",
            "",
            "3 3 6 3 5 42 1.5",
        ),
        (
            "{{ ternary \"y\" \"n\" true }} {{ coalesce \"\" nil \"c\" }} {{ empty .x }} {{ kindOf .m }} {{ typeOf 1 }}",
            "m: {}",
            "y c true map int",
        ),
        (
            "{{ dig \"a\" \"b\" \"def\" .m }} {{ dig \"a\" \"z\" \"def\" .m }}",
            "m: {a: {b: v}}",
            "v def",
        ),
        (
            "{{ include \"x\" . }}{{ define \"x\" }}in{{ .a }}{{ end }}",
            "a: 1",
            "in1",
        ),
        ("{{ tpl \"{{ .a }}-{{ .b }}\" . }}", "a: 1", "1-"),
        ("{{ required \"need a\" .a }}", "a: 1", "1"),
        (
            "{{ until 3 }} {{ seq 3 }} {{ untilStep 0 6 2 }}",
            "",
            "[0 1 2] 1 2 3 [0 2 4]",
        ),
        (
            "{{ title \"hello world\" }} {{ upper \"a\" }} {{ snakecase \"FooBar\" }} {{ camelcase \"foo_bar\" }}",
            "",
            "Hello World A foo_bar FooBar",
        ),
        (
            "{{ toString 1.5 }} {{ atoi \"12\" }} {{ cat \"a\" nil \"b\" }} {{ replace \"a\" \"b\" \"aaa\" }}",
            "",
            "1.5 12 a b bbb",
        ),
        ("{{ lookup \"v1\" \"Secret\" \"ns\" \"n\" }}", "", "map[]"),
    ];
    let mut failures = Vec::new();
    for (src, data, want) in rows {
        match run(src, data) {
            Ok(got) if got == *want => {}
            other => failures.push(format!("{src:?}: want {want:?}, got {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
