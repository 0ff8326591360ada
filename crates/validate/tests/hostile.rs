//! Hostile repositories: the gate runs on untrusted checkouts (pull requests in CI), so nothing
//! a repository says may make it read outside the checkout. A symlink to a host file, listed by
//! a `configMapGenerator`, as a `resources:` entry, as a HelmRelease's values file or inside an
//! in-repository chart, is refused with a located finding and its content never appears in the
//! report.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use keelson_validate::{Options, Report, Severity, validate};

const HOST_SECRET: &str = "ci-runner-token-9c1e77";

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create test dirs");
    }
    fs::write(path, text).expect("write test file");
}

/// Makes the host file outside the checkout a manifest carrying the host's secret.
fn write_host_manifest(host: &Path) {
    fs::write(
        host,
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\ndata:\n  t: {HOST_SECRET}\n"),
    )
    .expect("write host manifest");
}

/// A checkout with one cluster whose Kustomization builds `./apps`, and a host file outside it.
fn repo(tmp: &Path) -> (PathBuf, PathBuf) {
    let root = tmp.join("checkout");
    let host = tmp.join("host-credentials");
    fs::write(&host, format!("TOKEN={HOST_SECRET}\n")).expect("write host file");
    write(
        &root,
        "clusters/prod/flux-system/gotk-sync.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m\n  url: https://example.com/repo\n  ref:\n    branch: main\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/prod\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    );
    write(
        &root,
        "clusters/prod/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    );
    (root, host)
}

fn run(dir: &Path) -> Report {
    validate(dir, &Options::default()).expect("validate runs")
}

/// Asserts a `render/build-failed` located at the link names the security refusal, and the host
/// file's content is nowhere in the report.
fn assert_refused(report: &Report, file: &str) {
    let text = format!("{report:?}");
    assert!(!text.contains(HOST_SECRET), "the host file leaked: {text}");
    let hit = report.findings.iter().find(|f| {
        f.severity == Severity::Error
            && f.message.contains("security; file")
            && f.location.to_string().starts_with(file)
    });
    assert!(
        hit.is_some(),
        "no located refusal at {file}: {:#?}",
        report.findings
    );
    assert!(report.failed());
}

#[test]
fn a_config_map_generator_symlink_out_of_the_checkout_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (root, host) = repo(tmp.path());
    write(
        &root,
        "apps/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nconfigMapGenerator:\n- name: cfg\n  files:\n  - settings.env\n",
    );
    symlink(&host, root.join("apps/settings.env")).expect("symlink");
    assert_refused(&run(&root), "apps/settings.env");
}

#[test]
fn a_resource_symlink_out_of_the_checkout_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (root, host) = repo(tmp.path());
    write_host_manifest(&host);
    write(
        &root,
        "apps/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n",
    );
    symlink(&host, root.join("apps/cm.yaml")).expect("symlink");
    assert_refused(&run(&root), "apps/cm.yaml");
}

#[test]
fn a_flux_path_without_kustomization_does_not_follow_symlinks_out() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (root, host) = repo(tmp.path());
    write_host_manifest(&host);
    fs::create_dir_all(root.join("apps")).expect("apps dir");
    symlink(&host, root.join("apps/cm.yaml")).expect("symlink");
    let report = run(&root);
    let text = format!("{report:?}");
    assert!(!text.contains(HOST_SECRET), "the host file leaked: {text}");
    assert!(report.failed(), "{:#?}", report.findings);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message.contains("security; file")),
        "{:#?}",
        report.findings
    );
}
