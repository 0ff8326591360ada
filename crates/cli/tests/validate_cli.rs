//! `keelson validate` as CI runs it: exit codes (1 with errors, 0 without), the text line of a
//! finding in a HelmRelease's chart output (file:line of the HelmRelease, the template named),
//! `-v` showing skipped HelmReleases, `--output json` statistics, `--chart-cache`.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::Command;

struct Run {
    code: Option<i32>,
    stdout: String,
}

fn validate(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_keelson"))
        .arg("validate")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// One cluster deploying `web` (a chart of this repository, `replicas` from values) and
/// `remote` (an OCIRepository chartRef, skipped offline).
fn repo(dir: &Path, replicas: &str) {
    write(dir, ".gitignore", "*.agekey\nkubeconfig\n*.tfstate\n");
    write(
        dir,
        "clusters/prod/flux-system/gotk-sync.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m\n  url: https://example.com/repo\n  ref:\n    branch: main\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/prod\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    );
    write(
        dir,
        "apps/release.yaml",
        &format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n  namespace: web\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: ./charts/web\n      sourceRef:\n        kind: GitRepository\n        name: flux-system\n        namespace: flux-system\n  values:\n    replicas: {replicas}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: remote\n  namespace: web\nspec:\n  interval: 1h\n  url: oci://ghcr.io/example/remote\n  ref:\n    tag: 1.0.0\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: remote\n  namespace: web\nspec:\n  interval: 10m\n  chartRef:\n    kind: OCIRepository\n    name: remote\n"
        ),
    );
    write(
        dir,
        "charts/web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    );
    write(dir, "charts/web/values.yaml", "replicas: 1\n");
    write(
        dir,
        "charts/web/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    );
}

#[test]
fn helm_release_findings_exit_codes_and_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    repo(&dir, "many");
    let dir_arg = dir.to_str().unwrap();
    let bad = validate(&[dir_arg]);
    assert_eq!(bad.code, Some(1), "{}", bad.stdout);
    let line = bad
        .stdout
        .lines()
        .find(|l| l.contains("schema/invalid"))
        .unwrap_or_else(|| panic!("no schema finding: {}", bad.stdout));
    assert!(
        line.starts_with(
            "apps/release.yaml:10: error[schema/invalid] Deployment/web (from HelmRelease web/web, web/templates/deployment.yaml): /spec/replicas: "
        ),
        "{line}"
    );
    assert!(!bad.stdout.contains("helm/skipped"), "{}", bad.stdout);

    repo(&dir, "2");
    let good = validate(&[dir_arg, "-v"]);
    assert_eq!(good.code, Some(0), "{}", good.stdout);
    assert!(
        good.stdout.contains(
            "info[helm/skipped] HelmRelease/web/remote: chartRef OCIRepository/web/remote"
        ),
        "{}",
        good.stdout
    );
    assert!(good.stdout.contains(", 1 HelmReleases,"), "{}", good.stdout);

    let cache = tmp.path().join("cache");
    fs::create_dir_all(&cache).unwrap();
    let json = validate(&[
        dir_arg,
        "--output",
        "json",
        "--chart-cache",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(json.code, Some(0), "{}", json.stdout);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["stats"]["helm_releases"], 1, "{report}");
}
