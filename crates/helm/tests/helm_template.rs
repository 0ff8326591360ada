//! Differential test: every chart of the shared corpus (`charts/MANIFEST.tsv`, with the
//! dependencies vendored there), with default values, each value set in `<chart>-values/`, and
//! the inline values of every HelmRelease in `corpus/flux-repos` whose chart is in the corpus,
//! rendered by the real `helm template` and by keelson at a fixed Kubernetes version and the
//! same extra API versions; the outputs are parsed and compared as objects (in order). Fields
//! that are random by design (SOURCES.md: `randAlphaNum` passwords, generated certificates,
//! test-hook names) and the checksums derived from them are masked on both sides.
//!
//! HelmReleases that read `valuesFrom` are skipped (their Secrets/ConfigMaps live in the
//! cluster); Flux substitution variables (`${VAR}`, from cluster Secrets) become fixed
//! placeholders, `${VAR:=default}` its default.
//!
//! Cases listed in `tests/helm_known_failures.txt` (with a reason) may fail; every other case
//! must pass, and a listed case that passes fails the test so the list stays honest.
#![allow(clippy::unwrap_used)]

mod common;
mod corpus;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use corpus::Case;
use keelson_helm::render::{RenderOptions, render};
use keelson_helm::value::Map;
use serde_json::Value as J;

const KUBE_VERSION: &str = "1.33.0";
const NAMESPACE: &str = "corpus";
/// API versions templates gate on (ServiceMonitor, PodMonitor, VPA, Argo Rollouts, Gateway API,
/// cert-manager), passed to both renderers.
const API_VERSIONS: &[&str] = &[
    "monitoring.coreos.com/v1",
    "autoscaling.k8s.io/v1",
    "argoproj.io/v1alpha1",
    "gateway.networking.k8s.io/v1",
    "cert-manager.io/v1",
];

/// authelia's values.schema.json `$ref`s a URL: offline, helm needs `--skip-schema-validation`.
fn skip_schema(case: &Case) -> bool {
    case.chart == "authelia"
}

/// Parses a multi-document YAML stream into JSON objects (empty documents dropped).
fn objects(text: &str) -> Result<Vec<J>, String> {
    let docs = keelson_helm::yaml::parse_all(text).map_err(|e| e.to_string())?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.is_nil())
        .map(|d| keelson_helm::json::to_serde(&keelson_helm::yaml::json_numbers(d)))
        .collect())
}

fn run_helm(case: &Case, chart_dir: &Path) -> Result<String, String> {
    let helm = keelson_testsupport::tool("helm");
    let mut cmd = Command::new(helm);
    cmd.arg("template").arg(&case.release).arg(chart_dir);
    cmd.args(["--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]);
    for a in API_VERSIONS {
        cmd.args(["--api-versions", a]);
    }
    if skip_schema(case) {
        cmd.arg("--skip-schema-validation");
    }
    if let Some(v) = &case.values {
        cmd.arg("-f").arg(v);
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run_ours(case: &Case, chart_dir: &Path) -> Result<String, String> {
    let chart = keelson_helm::chart::load_dir(chart_dir).map_err(|e| e.to_string())?;
    let mut vals = Map::new();
    if let Some(v) = &case.values {
        let text = std::fs::read_to_string(v).map_err(|e| e.to_string())?;
        let parsed = keelson_helm::yaml::json_numbers(
            keelson_helm::yaml::parse(&text).map_err(|e| e.to_string())?,
        );
        if let Some(m) = parsed.as_map() {
            keelson_helm::values::merge_maps(&mut vals, &m);
        }
    }
    let opts = RenderOptions {
        release_name: case.release.clone(),
        namespace: NAMESPACE.into(),
        kube_version: Some(KUBE_VERSION.into()),
        api_versions: API_VERSIONS.iter().map(|s| s.to_string()).collect(),
        skip_schema_validation: skip_schema(case),
        ..RenderOptions::default()
    };
    let r = render(chart, &vals, &opts).map_err(|e| e.to_string())?;
    Ok(r.to_template_output(&opts))
}

fn is_random_case(case: &Case) -> bool {
    case.values.is_none()
        && matches!(
            case.chart.as_str(),
            "grafana" | "kube-prometheus-stack" | "redis" | "authelia"
        )
}

/// Masks values that are random by design, identically on both sides.
fn mask(case: &Case, obj: &mut J) {
    let kind = obj
        .get("kind")
        .and_then(J::as_str)
        .unwrap_or("")
        .to_string();
    let is_test_hook = obj
        .pointer("/metadata/annotations/helm.sh~1hook")
        .and_then(J::as_str)
        .is_some_and(|h| h.contains("test"));
    if is_test_hook && let Some(n) = obj.pointer_mut("/metadata/name") {
        *n = J::String("<random test name>".into());
    }
    // grafana's image-renderer token, loki's htpasswd, redis' generated passwords
    let random =
        is_random_case(case) || matches!(case.chart.as_str(), "grafana" | "loki" | "redis");
    if random {
        // checksums of rendered secrets/config that contain random parts
        mask_checksums(obj);
    }
    if kind == "ConfigMap" && case.chart == "redis" {
        // the default user's ACL line carries the sha256 of the (random) generated password
        let re = regex::Regex::new("user default on #[0-9a-f]{64}").unwrap();
        if let Some(J::Object(m)) = obj.get_mut("data") {
            for v in m.values_mut() {
                if let J::String(s) = v {
                    *s = re
                        .replace_all(s, "user default on #<sha256 of random password>")
                        .into_owned();
                }
            }
        }
    }
    if kind == "Secret" && random {
        // authelia's defaults generate every secret value (randAlphaNum after a lookup)
        let all = case.chart == "authelia" && case.values.is_none();
        for key in ["data", "stringData"] {
            if let Some(J::Object(m)) = obj.get_mut(key) {
                for (k, v) in m.iter_mut() {
                    let lk = k.to_lowercase();
                    if all
                        || lk.contains("password")
                        || lk == "token"
                        || lk.contains("tls.")
                        || lk.contains("ca.")
                        || lk.contains("htpasswd")
                        || lk.ends_with(".crt")
                        || lk.ends_with(".key")
                    {
                        *v = J::String("<random>".into());
                    }
                }
            }
        }
    }
}

fn mask_checksums(v: &mut J) {
    match v {
        J::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k.starts_with("checksum/") || k.contains("/checksum") {
                    *x = J::String("<checksum>".into());
                } else {
                    mask_checksums(x);
                }
            }
        }
        J::Array(a) => a.iter_mut().for_each(mask_checksums),
        _ => {}
    }
}

fn ident(o: &J) -> String {
    format!(
        "{}/{}",
        o.get("kind").and_then(J::as_str).unwrap_or("?"),
        o.pointer("/metadata/name")
            .and_then(J::as_str)
            .unwrap_or("?")
    )
}

fn first_diff(a: &J, b: &J, path: &str) -> Option<String> {
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_diff(p, q, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    (p, q) => {
                        return Some(format!("{path}.{k}: helm={} ours={}", short(p), short(q)));
                    }
                }
            }
            None
        }
        (J::Array(x), J::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_diff(p, q, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!(
            "{path}: helm={} ours={}",
            short(Some(a)),
            short(Some(b))
        )),
    }
}

fn short(v: Option<&J>) -> String {
    match v {
        None => "<absent>".into(),
        Some(v) => {
            let s = v.to_string();
            if s.len() > 160 {
                format!(
                    "{}…",
                    &s[..s.char_indices().nth(160).map_or(s.len(), |c| c.0)]
                )
            } else {
                s
            }
        }
    }
}

/// Compares; returns a description of the first differences.
fn compare(case: &Case, helm: &str, ours: &str) -> Result<(), String> {
    let mut h = objects(helm).map_err(|e| format!("helm output does not parse: {e}"))?;
    let mut o = objects(ours).map_err(|e| format!("our output does not parse: {e}"))?;
    h.iter_mut().for_each(|x| mask(case, x));
    o.iter_mut().for_each(|x| mask(case, x));
    if h == o {
        return Ok(());
    }
    let hi: Vec<String> = h.iter().map(ident).collect();
    let oi: Vec<String> = o.iter().map(ident).collect();
    let mut msgs = Vec::new();
    let missing: Vec<&String> = hi.iter().filter(|x| !oi.contains(x)).collect();
    let extra: Vec<&String> = oi.iter().filter(|x| !hi.contains(x)).collect();
    if !missing.is_empty() {
        msgs.push(format!("missing {missing:?}"));
    }
    if !extra.is_empty() {
        msgs.push(format!("extra {extra:?}"));
    }
    let hm: BTreeMap<&String, &J> = hi.iter().zip(h.iter()).collect();
    for (id, ob) in oi.iter().zip(o.iter()) {
        if let Some(hb) = hm.get(id)
            && let Some(d) = first_diff(hb, ob, "")
        {
            msgs.push(format!("{id}: {d}"));
            if msgs.len() > 6 {
                break;
            }
        }
    }
    if msgs.is_empty() {
        msgs.push(format!(
            "same objects, different order: helm {hi:?} ours {oi:?}"
        ));
    }
    Err(msgs.join("\n    "))
}

fn short_line(e: &str) -> String {
    let line = e.lines().next().unwrap_or("");
    line.chars().take(200).collect()
}

fn known_failures() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm_known_failures.txt"),
    )
    .unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (id, reason) = l.split_once('\t').unwrap_or((l, ""));
            (id.trim().to_string(), reason.trim().to_string())
        })
        .collect()
}

#[test]
fn corpus_renders_like_helm_template() {
    let started = std::time::Instant::now();
    let corpus_dir = keelson_testsupport::shared_dir().join("corpus");
    let charts = corpus_dir.join("charts");
    let only = std::env::var("KEELSON_HELM_CASE").ok();
    let known = known_failures();
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    let work = tempfile::tempdir().unwrap();
    let mut all = corpus::value_set_cases(&charts);
    let (releases, scan) = corpus::release_cases(&corpus_dir, &charts, work.path());
    println!(
        "HelmReleases: {} seen, {} rendered, {} duplicates of another case, {} skipped for valuesFrom, {} for a chart not in the corpus",
        scan.seen,
        releases.len(),
        scan.duplicates,
        scan.values_from.len(),
        scan.other_chart.values().sum::<usize>()
    );
    for v in &scan.values_from {
        println!("  valuesFrom (skipped): {v}");
    }
    all.extend(releases);
    all.retain(|c| only.as_ref().is_none_or(|o| c.id.starts_with(o.as_str())));
    let results = common::par_map(&all, |case| {
        let dir = charts.join(&case.chart);
        let helm = run_helm(case, &dir);
        let ours = run_ours(case, &dir);
        match (&helm, &ours) {
            (Ok(h), Ok(o)) => compare(case, h, o),
            // both refuse (e.g. loki's defaults fail on purpose)
            (Err(e), Err(_)) => Err(format!("both refused: {e}")),
            (Err(e), Ok(_)) => Err(format!("helm failed but we rendered: {e}")),
            (Ok(_), Err(e)) => Err(format!("we failed: {e}")),
        }
    });
    let mut both_refused = Vec::new();
    for (case, result) in all.iter().zip(results) {
        match result {
            Ok(()) => passed.push(case.id.clone()),
            Err(e) if e.starts_with("both refused: ") => {
                both_refused.push(format!("{}: {}", case.id, short_line(&e)));
                passed.push(case.id.clone());
            }
            Err(e) => failed.push((case.id.clone(), e)),
        }
    }
    println!("refused by both ({}):", both_refused.len());
    for b in &both_refused {
        println!("  {b}");
    }
    let total = passed.len() + failed.len();
    println!("passed ({}):", passed.len());
    for p in &passed {
        println!("  {p}");
    }
    println!("failed ({}):", failed.len());
    for (id, e) in &failed {
        println!("  {id}: {e}");
    }
    println!(
        "helm template conformance: {}/{} cases object-equal ({:.1}%) in {:.0?}",
        passed.len(),
        total,
        100.0 * passed.len() as f64 / total.max(1) as f64,
        started.elapsed()
    );
    let unexpected: Vec<&String> = failed
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !known.contains_key(*id))
        .collect();
    let stale: Vec<&String> = passed.iter().filter(|id| known.contains_key(*id)).collect();
    assert!(
        unexpected.is_empty(),
        "cases failing that are not in helm_known_failures.txt: {unexpected:?}"
    );
    assert!(
        stale.is_empty(),
        "cases in helm_known_failures.txt that now pass (remove them): {stale:?}"
    );
    assert!(total > 0, "no cases ran");
}
