//! postBuild substitution against the real `flux envsubst --strict` (the same envsubst package
//! kustomize-controller runs): same template and variables, same output — or both refuse.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use keelson_kustomize::substitute::substitute;

const VARS: &[(&str, &str)] = &[
    ("V", "ab.cd.ef"),
    ("W", "HeLLo"),
    ("E", ""),
    ("P", "apps/base/web.yaml"),
    ("SECRET_DOMAIN", "example.com"),
    ("N", "3"),
];

const TEMPLATES: &[&str] = &[
    "${V}",
    "${E}",
    "${U}",
    "${U:-fallback}",
    "${U:=fallback}",
    "${U-fallback}",
    "${U=fallback}",
    "${E:-fallback}",
    "${E-fallback}",
    "${V:-fallback}",
    "${U:-}",
    "${#V}",
    "${#E}",
    "${#U}",
    "${V^}",
    "${V^^}",
    "${W,}",
    "${W,,}",
    "${V:2}",
    "${V:1:3}",
    "${V:1:-1}",
    "${V:0:100}",
    "${V:10}",
    "${V: -2}",
    "${V#*.}",
    "${V##*.}",
    "${V%.*}",
    "${V%%.*}",
    "${P#*/}",
    "${P##*/}",
    "${P%/*}",
    "${P%%/*}",
    "${P##a*/}",
    "${P%/[a-z]*}",
    "${P#?}",
    "${V-x}",
    "${V=x}",
    "${V#[a-b]?}",
    "${V/./-}",
    "${V//./-}",
    "${V//./}",
    "${V/#ab/X}",
    "${V/%ef/Y}",
    "${V/x/y}",
    "${SECRET_DOMAIN/./-}",
    "${U/./-}",
    "${N}x$${V}-$V-${W^^}",
    "host: ${SECRET_DOMAIN/./-}-tls\nreplicas: ${N:=1}\n",
];

fn flux_envsubst(template: &str) -> Option<String> {
    let mut child = Command::new(keelson_testsupport::tool("flux"))
        .args(["envsubst", "--strict"])
        .env_clear()
        .envs(VARS.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(template.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // flux prints a trailing newline after the substituted text.
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .trim_end_matches('\n')
            .to_string()
    })
}

#[test]
fn substitution_matches_flux_envsubst() {
    let vars: BTreeMap<String, String> = VARS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut mismatches = Vec::new();
    for template in TEMPLATES {
        let theirs = flux_envsubst(template);
        let ours = substitute(template, &vars)
            .ok()
            .map(|s| s.trim_end_matches('\n').to_string());
        if ours != theirs {
            mismatches.push(format!("{template:?}: keelson {ours:?}, flux {theirs:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
