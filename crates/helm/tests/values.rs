//! Helm's value rules on small in-memory charts: coalescing (user values win, `null` deletes a
//! default), globals flowing to subcharts, conditions/tags/aliases, import-values, `--set`.
#![allow(clippy::unwrap_used)]

use keelson_helm::chart::load_files;
use keelson_helm::render::{RenderOptions, render};
use keelson_helm::value::Map;

fn chart(files: &[(&str, &str)]) -> keelson_helm::chart::Chart {
    load_files(
        "mem",
        files
            .iter()
            .map(|(n, d)| (n.to_string(), d.as_bytes().to_vec()))
            .collect(),
    )
    .unwrap()
}

fn user(yaml: &str) -> Map {
    keelson_helm::yaml::json_numbers(keelson_helm::yaml::parse(yaml).unwrap())
        .as_map()
        .unwrap()
        .clone()
}

fn out(c: keelson_helm::chart::Chart, vals: &Map) -> String {
    let r = render(c, vals, &RenderOptions::default()).unwrap();
    r.manifests
        .iter()
        .map(|m| m.content.trim().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

const PARENT: &str = "apiVersion: v2\nname: p\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 0.1.0\n  condition: sub.enabled\n- name: sub\n  alias: other\n  version: 0.1.0\n  tags: [extra]\n  import-values:\n  - child: shared\n    parent: fromOther\n";
const SUB: &str = "apiVersion: v2\nname: sub\nversion: 0.1.0\n";

fn family() -> keelson_helm::chart::Chart {
    chart(&[
        ("Chart.yaml", PARENT),
        (
            "values.yaml",
            "a: 1\nb: {c: 2, d: 3}\nglobal: {g: top}\nsub: {enabled: true}\ntags: {extra: false}\n",
        ),
        (
            "templates/cm.yaml",
            "kind: ConfigMap\nv: {{ .Values | toJson }}\n",
        ),
        ("charts/sub/Chart.yaml", SUB),
        ("charts/sub/values.yaml", "x: sub-default\nshared: {k: v}\n"),
        (
            "charts/sub/templates/cm.yaml",
            "kind: ConfigMap\nname: {{ .Chart.Name }}\nv: {{ .Values | toJson }}\n",
        ),
    ])
}

#[test]
fn null_deletes_defaults_and_user_values_win() {
    let got = out(family(), &user("a: 5\nb: {c: null}\n"));
    assert!(got.contains(r#""a":5"#), "{got}");
    assert!(got.contains(r#""b":{"d":3}"#), "{got}");
}

#[test]
fn globals_conditions_tags_aliases() {
    let got = out(family(), &user("sub: {x: mine}\n"));
    assert!(got.contains(r#"name: sub"#), "{got}");
    assert!(
        !got.contains("name: other"),
        "tag extra=false disables the alias: {got}"
    );
    assert!(
        got.contains(r#""global":{"g":"top"}"#) && got.contains(r#""x":"mine""#),
        "{got}"
    );
    let got = out(
        family(),
        &user("sub: {enabled: false}\ntags: {extra: true}\n"),
    );
    assert!(
        !got.contains("name: sub\n") && got.contains("name: other"),
        "{got}"
    );
}

#[test]
fn import_values_reach_the_parent() {
    let got = out(family(), &user("tags: {extra: true}\n"));
    assert!(got.contains(r#""fromOther":{"k":"v"}"#), "{got}");
}

#[test]
fn set_expressions() {
    let mut m = Map::new();
    keelson_helm::values::parse_set("a.b=1,c=true,d=x\\,y,e[1]=z,f=null,g=007", &mut m, false)
        .unwrap();
    let v = keelson_helm::json::to_json(&keelson_helm::value::Value::map(m), false);
    assert_eq!(
        v,
        r#"{"a":{"b":1},"c":true,"d":"x,y","e":[null,"z"],"f":null,"g":"007"}"#
    );
}

/// The same family of charts through the real `helm template`: both outputs must be equal objects.
#[test]
fn value_rules_match_helm() {
    let dir = std::env::temp_dir().join(format!("keelson-helm-values-{}", std::process::id()));
    let files = [
        ("Chart.yaml", PARENT),
        (
            "values.yaml",
            "a: 1\nb: {c: 2, d: 3}\nglobal: {g: top}\nsub: {enabled: true}\ntags: {extra: false}\n",
        ),
        (
            "templates/cm.yaml",
            "kind: ConfigMap\nv: {{ .Values | toJson }}\n",
        ),
        ("charts/sub/Chart.yaml", SUB),
        ("charts/sub/values.yaml", "x: sub-default\nshared: {k: v}\n"),
        (
            "charts/sub/templates/cm.yaml",
            "kind: ConfigMap\nname: {{ .Chart.Name }}\nv: {{ .Values | toJson }}\n",
        ),
    ];
    for (n, d) in files {
        let p = dir.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, d).unwrap();
    }
    let helm = keelson_testsupport::tool("helm");
    for (i, vals) in [
        "",
        "a: 5\nb: {c: null}\n",
        "sub: {x: mine}\n",
        "sub: {enabled: false}\ntags: {extra: true}\n",
        "global: {g: user, h: 1}\nother: {x: o}\n",
    ]
    .iter()
    .enumerate()
    {
        let vf = dir.join(format!("values-{i}.yaml"));
        std::fs::write(&vf, vals).unwrap();
        let out = std::process::Command::new(&helm)
            .args(["template", "release-name"])
            .arg(&dir)
            .arg("-f")
            .arg(&vf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = String::from_utf8_lossy(&out.stdout).into_owned();
        let r = render(
            keelson_helm::chart::load_dir(&dir).unwrap(),
            &user(if vals.is_empty() { "{}" } else { vals }),
            &RenderOptions::default(),
        )
        .unwrap();
        let ours = r.to_template_output(&RenderOptions::default());
        let parse = |t: &str| -> Vec<serde_json::Value> {
            keelson_helm::yaml::parse_all(t)
                .unwrap()
                .into_iter()
                .filter(|d| !d.is_nil())
                .map(|d| keelson_helm::json::to_serde(&d))
                .collect()
        };
        assert_eq!(
            parse(&theirs),
            parse(&ours),
            "values {vals:?}\nhelm:\n{theirs}\nours:\n{ours}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
