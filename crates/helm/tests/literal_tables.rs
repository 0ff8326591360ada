//! Differential tables against the real `helm template`, one tiny chart per entry:
//!
//! - every number and character literal form Go's `text/template` lexes (hex floats like
//!   `0x1p60`, `1_000`, `0o17`, `0b101`, `1e18`, `.5`, rune constants, and the forms Go
//!   refuses): the printed value and its Go type (`typeOf`) must match, or both must fail;
//! - YAML scalars of a values file as `sigs.k8s.io/yaml` (go-yaml v2, YAML 1.1) types them,
//!   plain and quoted, as values and as keys: `toJson`, `typeOf` and `toYaml` of the value must
//!   match, or both must refuse the file.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use keelson_helm::render::{RenderOptions, render};
use keelson_helm::value::Map;

/// Complex constants: helm prints `(1+2i)`; keelson has no complex128 and refuses them.
const COMPLEX: &[&str] = &["1i", "1+2i", "1+0i", "0x1p2i"];

const LITERALS: &[&str] = &[
    "0x1p60",
    "0x1P-2",
    "0x1.8p1",
    "0X1P4",
    "0x10p-2",
    "0x.8p1",
    "0x1p",
    "0x1.8",
    "0x1F.8",
    "1_000",
    "1__0",
    "1_",
    "0_7",
    "0_8",
    "0x_1F",
    "0b_1",
    "1_000.5",
    "1_0e1_0",
    "0x1F",
    "0x1f",
    "0X1F",
    "0x1e",
    "0x",
    "0xg",
    "0o17",
    "0O17",
    "0o",
    "0o18",
    "0b101",
    "0B101",
    "0b",
    "0b102",
    "007",
    "08",
    "09.5",
    "00",
    "0",
    "-0",
    "+5",
    "-5",
    "+0x10",
    "-0b11",
    "1e18",
    "1E3",
    "1e-7",
    "1e21",
    "1e+3",
    "1e",
    "1e+",
    "1.e5",
    "1.",
    ".5",
    "+.5",
    "-.5e2",
    "0.1",
    "1.0",
    "0.0",
    "-0.0",
    "-1.5",
    "1e400",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "99999999999999999999",
    "1a",
    "1-2",
    "0x1e+5",
    "'a'",
    "'\\n'",
    "'\\x41'",
    "'\\u00e9'",
    "'\\U0001F600'",
    "'\\101'",
    "'\\''",
    "'é'",
    "'\\t'",
    "''",
    "'ab'",
    "'\\\"'",
    "'\\400'",
    "'\\q'",
    "1i",
    "1+2i",
    "1+0i",
    "0x1p2i",
];

fn chart_with(dir: &Path, template: &str, values: &str) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: lit\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), values).unwrap();
    std::fs::write(dir.join("templates/t.yaml"), template).unwrap();
}

fn ours(dir: &Path, values_file: Option<&Path>) -> Result<String, String> {
    let chart = keelson_helm::chart::load_dir(dir).map_err(|e| e.to_string())?;
    let mut vals = Map::new();
    if let Some(f) = values_file {
        let text = std::fs::read_to_string(f).unwrap();
        let parsed = keelson_helm::yaml::json_numbers(
            keelson_helm::yaml::parse(&text).map_err(|e| e.to_string())?,
        );
        if let Some(m) = parsed.as_map() {
            keelson_helm::values::merge_maps(&mut vals, &m);
        }
    }
    let opts = RenderOptions {
        release_name: "r".into(),
        namespace: "default".into(),
        ..RenderOptions::default()
    };
    let r = render(chart, &vals, &opts).map_err(|e| e.to_string())?;
    Ok(r.to_template_output(&opts))
}

/// `Ok(())` when both agree; the two sides otherwise.
fn agree(helm: &Result<String, String>, ours: &Result<String, String>) -> Result<(), String> {
    match (helm, ours) {
        (Ok(h), Ok(o)) if common::objects(h) == common::objects(o) => Ok(()),
        (Err(_), Err(_)) => Ok(()),
        _ => Err(format!("helm: {helm:?}\n      ours: {ours:?}")),
    }
}

#[test]
fn go_number_literals_like_helm() {
    let work = tempfile::tempdir().unwrap();
    let mut diffs = Vec::new();
    let indexed: Vec<(usize, &&str)> = LITERALS.iter().enumerate().collect();
    let results = common::par_map(&indexed, |(i, lit)| {
        let dir = work.path().join(format!("lit{i}"));
        let t = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lit\ndata:\n  printed: {{{{ print {lit} | quote }}}}\n  type: {{{{ typeOf {lit} | quote }}}}\n"
        );
        chart_with(&dir, &t, "");
        (
            common::helm(&["template", "r", dir.to_str().unwrap()]),
            ours(&dir, None),
        )
    });
    for (lit, (helm, ours)) in LITERALS.iter().zip(results) {
        if COMPLEX.contains(lit) {
            // a known, stated difference: helm renders complex128, keelson refuses clearly
            assert!(helm.is_ok(), "{lit}: helm refused {helm:?}");
            let e = ours.expect_err(lit);
            assert!(e.contains("complex constant"), "{lit}: {e}");
            continue;
        }
        if let Err(d) = agree(&helm, &ours) {
            diffs.push(format!("{lit}: {d}"));
        }
    }
    println!(
        "Go literals: {} cases, {} differ",
        LITERALS.len(),
        diffs.len()
    );
    assert!(diffs.is_empty(), "literals differ:\n{}", diffs.join("\n"));
}

/// YAML scalars as they are written in a values file (quoted ones with their quotes).
const SCALARS: &[&str] = &[
    // null and booleans (YAML 1.1)
    "~",
    "null",
    "Null",
    "NULL",
    "nULL",
    "",
    "y",
    "Y",
    "yes",
    "Yes",
    "YES",
    "yEs",
    "n",
    "N",
    "no",
    "No",
    "NO",
    "true",
    "True",
    "TRUE",
    "tRUE",
    "false",
    "False",
    "FALSE",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "oN",
    // integers
    "0",
    "-0",
    "+0",
    "12",
    "+12",
    "-12",
    "007",
    "08",
    "09",
    "0777",
    "0o14",
    "0O14",
    "0o",
    "0x",
    "0x1F",
    "0X1f",
    "-0x1F",
    "+0x1F",
    "0xg",
    "0b101",
    "-0b101",
    "0b102",
    "0b",
    "1_000",
    "1__0",
    "_1000",
    "1_",
    "0x_1F",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "0-0",
    "1-2",
    "0+0",
    // floats
    "1e3",
    "1E3",
    "1e+3",
    "1e-3",
    "1.5",
    "-1.5",
    "+1.5",
    ".5",
    "-.5",
    "+.5",
    "1.",
    "-1.",
    "1.e3",
    "0.0",
    "-0.0",
    ".5_0",
    "1_0.5",
    "1e400",
    "-1e400",
    "1e",
    "1.2e",
    "0x1p3",
    ".e3",
    ".",
    ".inf",
    ".Inf",
    ".INF",
    "+.inf",
    "-.inf",
    ".iNf",
    ".nan",
    ".NaN",
    ".NAN",
    "inf",
    "nan",
    "-inf",
    "infinity",
    "6.02e23",
    "1.2.3",
    "1.2.3.4",
    "v1.2.3",
    "1.0.0-rc1",
    // sexagesimal, times, dates
    "1:20",
    "190:20:30",
    "1:20.5",
    "1:60",
    "-1:20",
    "12:30:45",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "2001-12-14T21:59:43Z",
    "2001-12-14 21:59:43.10 -5",
    "2001-2-30",
    "2001-02-29",
    "2000-02-29",
    "20011214",
    "2001-1-1",
    "2001/12/14",
    // other plain text that looks special
    "<<",
    "=",
    "-",
    "--",
    "- x",
    "0.",
    "1,000",
    "1 000",
    "$1",
    "#x",
    "a: b",
    "a #b",
    "@x",
    "`x`",
    "%x",
    "!x",
    "x!",
    "1e3x",
    "0x1F_",
    "10Gi",
    "500m",
    "1.5Gi",
    "+",
    "++1",
    "0xFFFFFFFFFFFFFFFF",
    "0xFFFFFFFFFFFFFFFFF",
    "tab\there",
    "é",
    "日本",
    // quoted
    "'0-0'",
    "\"1e3\"",
    "'yes'",
    "\"~\"",
    "'007'",
    "\"\"",
    "''",
    "\"<<\"",
    "'1:20'",
    "\"8080\"",
    "\"true\"",
    "'.inf'",
    "\"2001-12-14\"",
    "\"line1\\nline2\"",
    "\"trail \"",
    "\" lead\"",
    "\"a\\tb\"",
    "\"\\u00e9\"",
    "\"\\U0001F600\"",
    "'it''s'",
    "\"x\\ny\\n\\n\"",
    "\"\\nlead\"",
    // tags
    "!!str 12",
    "!!int \"12\"",
    "!!float 1",
    "!!bool yes",
    "!!null ~",
    "!!binary aGVsbG8=",
    "!foo bar",
    "! 12",
    "!!str",
    "!!int 0x10",
    "!!float \"1e3\"",
];

#[test]
fn yaml_scalars_like_helm() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("scalars");
    chart_with(
        &dir,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scalar\ndata:\n  json: {{ toJson .Values | quote }}\n  type: {{ typeOf .Values.v | quote }}\n  yaml: {{ toYaml .Values | quote }}\n",
        "",
    );
    let mut cases = Vec::new();
    for s in SCALARS {
        cases.push(("value", *s, format!("v: {s}\n")));
        cases.push(("key", *s, format!("v:\n  {s}: k\n")));
        cases.push(("item", *s, format!("v:\n- {s}\n")));
    }
    let indexed: Vec<(usize, &(&str, &str, String))> = cases.iter().enumerate().collect();
    let results = common::par_map(&indexed, |(i, (_, _, text))| {
        let f = work.path().join(format!("v{i}.yaml"));
        std::fs::write(&f, text).unwrap();
        let helm = common::helm(&[
            "template",
            "r",
            dir.to_str().unwrap(),
            "-f",
            f.to_str().unwrap(),
        ]);
        (helm, ours(&dir, Some(&f)))
    });
    let n = cases.len();
    let mut diffs = Vec::new();
    for ((how, s, _), (helm, ours)) in cases.iter().zip(results) {
        if let Err(d) = agree(&helm, &ours) {
            diffs.push(format!("{how} {s:?}: {d}"));
        }
    }
    println!(
        "YAML scalars: {} scalars, {n} cases, {} differ",
        SCALARS.len(),
        diffs.len()
    );
    assert!(SCALARS.len() >= 100);
    assert!(diffs.is_empty(), "scalars differ:\n{}", diffs.join("\n"));
}
