//! CLI-level differential test: the `keelson` binary's `helm template` against the real
//! `helm template` with the same arguments (`-f` several files, `--set`, `--set-string`,
//! `--namespace`/`-n`, `--kube-version`, `--api-versions`, `--include-crds`, `--skip-tests`,
//! `--no-hooks`, a packaged `.tgz` chart, failures). Outputs are compared as objects in order
//! and by their `# Source:` lines; test-hook names carry random suffixes in one chart and are
//! masked on both sides.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as J;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(bin: &Path, args: &[String]) -> Run {
    let out = Command::new(bin).args(args).output().unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn keelson() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_keelson"))
}

fn helm() -> PathBuf {
    keelson_testsupport::tool("helm")
}

fn charts() -> PathBuf {
    keelson_testsupport::shared_dir().join("corpus/charts")
}

fn objects(text: &str) -> Vec<J> {
    let docs = keelson_helm::yaml::parse_all(text).unwrap();
    docs.into_iter()
        .filter(|d| !d.is_nil())
        .map(|d| {
            let mut j = keelson_helm::json::to_serde(&d);
            // podinfo's test hooks are named with randAlphaNum
            let test = j
                .pointer("/metadata/annotations/helm.sh~1hook")
                .and_then(J::as_str)
                .is_some_and(|h| h.contains("test"));
            if test && let Some(n) = j.pointer_mut("/metadata/name") {
                *n = J::String("<random>".into());
            }
            j
        })
        .collect()
}

fn sources(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# Source: "))
        .collect()
}

/// Runs both with `args` (after `template`) and compares.
fn same(args: &[String]) -> Result<(), String> {
    let mut full = vec!["template".to_string()];
    full.extend_from_slice(args);
    let h = run(&helm(), &full);
    let mut kfull = vec!["helm".to_string()];
    kfull.extend(full);
    let k = run(&keelson(), &kfull);
    match (h.ok, k.ok) {
        (false, false) => return Ok(()),
        (true, false) => return Err(format!("keelson failed: {}", k.stderr)),
        (false, true) => return Err(format!("helm failed but keelson rendered: {}", h.stderr)),
        (true, true) => {}
    }
    if sources(&h.stdout) != sources(&k.stdout) {
        return Err(format!(
            "sources differ:\n helm   {:?}\n keelson {:?}",
            sources(&h.stdout),
            sources(&k.stdout)
        ));
    }
    let (ho, ko) = (objects(&h.stdout), objects(&k.stdout));
    if ho != ko {
        for (a, b) in ho.iter().zip(ko.iter()) {
            if a != b {
                return Err(format!(
                    "first different object:\n helm    {a}\n keelson {b}"
                ));
            }
        }
        return Err(format!("{} objects vs {}", ho.len(), ko.len()));
    }
    Ok(())
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn keelson_helm_template_matches_helm() {
    let c = charts();
    let p = |x: &str| c.join(x).display().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let extra = tmp.path().join("extra.yaml");
    std::fs::write(
        &extra,
        "replicaCount: 3\nui:\n  message: from-second-file\nresources:\n  limits:\n    memory: 1Gi\n",
    )
    .unwrap();
    let extra = extra.display().to_string();
    // a packaged chart
    let pkg = tmp.path().join("pkg");
    let out = Command::new(helm())
        .args(["package", &p("podinfo"), "-d"])
        .arg(&pkg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tgz = std::fs::read_dir(&pkg)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .display()
        .to_string();

    let cases: Vec<Vec<String>> = vec![
        // several -f files, --set over them, --set-string, -n
        [
            s(&["web", &p("podinfo"), "-f"]),
            vec![p("podinfo-values/ingress-hpa-monitoring.yaml")],
            s(&["-f", &extra, "--set", "replicaCount=5,ui.color=#ff0000"]),
            s(&["--set-string", "podAnnotations.build=0123", "-n", "apps"]),
            s(&["--kube-version", "1.31.4"]),
        ]
        .concat(),
        // test hooks, skipped
        s(&["web", &p("podinfo"), "--skip-tests", "--namespace", "t"]),
        // hooks left out
        s(&[
            "flux",
            &p("flux2"),
            "--no-hooks",
            "--kube-version",
            "v1.33.0",
        ]),
        // hooks kept, a value set
        [
            s(&["flux", &p("flux2"), "-f"]),
            vec![p("flux2-values/multitenancy-podmonitor.yaml")],
        ]
        .concat(),
        // crds/ of subcharts, with and without --include-crds
        s(&[
            "lb",
            &p("metallb"),
            "--include-crds",
            "--kube-version",
            "1.33.0",
        ]),
        s(&["lb", &p("metallb"), "--kube-version", "1.33.0"]),
        // --api-versions turns on what .Capabilities.APIVersions.Has guards
        [
            s(&["cm", &p("cert-manager"), "--api-versions"]),
            s(&[
                "monitoring.coreos.com/v1",
                "-a",
                "gateway.networking.k8s.io/v1",
            ]),
            s(&["-f"]),
            vec![p("cert-manager-values/podmonitor-config-extras.yaml")],
            s(&["--kube-version", "1.33.0"]),
        ]
        .concat(),
        // a packaged chart
        s(&["packed", &tgz, "--set", "service.type=NodePort"]),
        // --set with lists, escaped commas, null deleting a default
        s(&[
            "x",
            &p("podinfo"),
            "--set",
            "extraArgs={--level=debug,--port-metrics=9797}",
            "--set",
            "podAnnotations.a=b\\,c",
            "--set",
            "resources.limits=null",
        ]),
        // errors: no such chart, an invalid kube version
        s(&["x", "/nonexistent/chart"]),
        s(&["x", &p("podinfo"), "--kube-version", "banana"]),
    ];
    let mut failures = Vec::new();
    for args in &cases {
        if let Err(e) = same(args) {
            failures.push(format!("{args:?}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn failures_are_reported_with_nonzero_exit() {
    let k = run(
        &keelson(),
        &s(&["helm", "template", "x", "/nonexistent/chart"]),
    );
    assert!(!k.ok);
    assert!(k.stderr.contains("/nonexistent/chart"), "{}", k.stderr);
    // a `required` value missing: helm's message, located
    let k = run(
        &keelson(),
        &s(&[
            "helm",
            "template",
            "x",
            &charts().join("loki").display().to_string(),
        ]),
    );
    let h = run(
        &helm(),
        &s(&[
            "template",
            "x",
            &charts().join("loki").display().to_string(),
        ]),
    );
    assert!(!k.ok && !h.ok);
}
