//! Seeded faults: a small Flux repository, correct as written, then broken one way at a time;
//! each fault must be found with its rule and its file:line.

use std::fs;
use std::path::Path;

use keelson_validate::{Options, Report, Severity, validate};

/// A clean Flux repository: a cluster directory with the bootstrap Kustomization and two
/// Kustomizations (infra, apps) where apps depends on infra and uses postBuild substitution.
fn clean_repo(dir: &Path) {
    let files: &[(&str, &str)] = &[
        (".gitignore", "*.agekey\nkubeconfig\n*.tfstate\n"),
        (
            "clusters/prod/flux-system/gotk-sync.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m\n  url: https://example.com/repo\n  ref:\n    branch: main\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/prod\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
        ),
        (
            "clusters/prod/flux-system/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-sync.yaml\n- vars.yaml\n",
        ),
        (
            "clusters/prod/flux-system/vars.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-vars\n  namespace: flux-system\ndata:\n  env: prod\n",
        ),
        (
            "clusters/prod/infra.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: infra\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./infra\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
        ),
        (
            "clusters/prod/apps.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  dependsOn:\n  - name: infra\n  path: ./apps\n  prune: true\n  targetNamespace: web\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: cluster-vars\n",
        ),
        (
            "infra/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
        ),
        (
            "apps/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n",
        ),
        (
            "apps/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    env: ${env}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
        ),
    ];
    for (path, text) in files {
        write(dir, path, text);
    }
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create test dirs");
    }
    fs::write(path, text).expect("write test file");
}

fn edit(dir: &Path, path: &str, from: &str, to: &str) {
    let path = dir.join(path);
    let text = fs::read_to_string(&path).expect("read test file");
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    fs::write(&path, text.replacen(from, to, 1)).expect("write test file");
}

fn run(dir: &Path) -> Report {
    validate(dir, &Options::default()).expect("validate runs")
}

/// The (rule, file:line) of every error.
fn errors(report: &Report) -> Vec<(String, String)> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.rule.clone(), f.location.to_string()))
        .collect()
}

fn one_error(dir: &Path) -> (String, String) {
    let report = run(dir);
    let errors = errors(&report);
    assert_eq!(errors.len(), 1, "{:#?}", report.findings);
    errors.into_iter().next().expect("one error")
}

#[test]
fn clean_repository_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    let report = run(dir.path());
    assert!(!report.failed(), "{:#?}", report.findings);
    assert_eq!(report.stats.kustomizations, 3, "{report:#?}");
    assert_eq!(report.stats.plain_trees, 0);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[test]
fn missing_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    edit(
        dir.path(),
        "clusters/prod/infra.yaml",
        "path: ./infra",
        "path: ./infrastructure",
    );
    assert_eq!(
        one_error(dir.path()),
        (
            "graph/missing-path".into(),
            "clusters/prod/infra.yaml:8".into()
        )
    );
}

#[test]
fn dependency_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    edit(
        dir.path(),
        "clusters/prod/infra.yaml",
        "  path: ./infra",
        "  dependsOn:\n  - name: apps\n  path: ./infra",
    );
    let (rule, loc) = one_error(dir.path());
    assert_eq!(rule, "graph/dependency-cycle");
    assert!(
        loc == "clusters/prod/apps.yaml:8" || loc == "clusters/prod/infra.yaml:8",
        "{loc}"
    );
}

#[test]
fn missing_dependency_and_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    edit(
        dir.path(),
        "clusters/prod/apps.yaml",
        "- name: infra",
        "- name: infra-controllers",
    );
    edit(
        dir.path(),
        "clusters/prod/infra.yaml",
        "name: flux-system",
        "name: other",
    );
    let mut errors = errors(&run(dir.path()));
    errors.sort();
    assert_eq!(
        errors,
        vec![
            (
                "graph/missing-dependency".into(),
                "clusters/prod/apps.yaml:9".into()
            ),
            (
                "graph/missing-source".into(),
                "clusters/prod/infra.yaml:10".into()
            ),
        ]
    );
}

#[test]
fn unresolved_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    edit(
        dir.path(),
        "apps/deployment.yaml",
        "image: nginx:1.27",
        "image: nginx:${tag}",
    );
    assert_eq!(
        one_error(dir.path()),
        (
            "render/unresolved-variable".into(),
            "apps/deployment.yaml:19".into()
        )
    );
}

#[test]
fn object_deployed_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    write(
        dir.path(),
        "apps/namespace.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
    );
    edit(
        dir.path(),
        "apps/kustomization.yaml",
        "- deployment.yaml",
        "- deployment.yaml\n- namespace.yaml",
    );
    let (rule, loc) = one_error(dir.path());
    assert_eq!(rule, "graph/duplicate-object");
    assert!(
        loc == "apps/namespace.yaml:1" || loc == "infra/namespace.yaml:1",
        "{loc}"
    );
}

#[test]
fn build_failure_points_at_the_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    edit(
        dir.path(),
        "apps/kustomization.yaml",
        "- deployment.yaml",
        "- deployment.yaml\n- service.yaml",
    );
    assert_eq!(
        one_error(dir.path()),
        (
            "render/build-failed".into(),
            "apps/kustomization.yaml:5".into()
        )
    );
}

#[test]
fn unencrypted_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    write(
        dir.path(),
        "apps/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  user: admin\n",
    );
    edit(
        dir.path(),
        "apps/kustomization.yaml",
        "- deployment.yaml",
        "- deployment.yaml\n- secret.yaml",
    );
    assert_eq!(
        one_error(dir.path()),
        (
            "secret/unencrypted-secret".into(),
            "apps/secret.yaml:5".into()
        )
    );
}

#[test]
fn sops_file_partly_encrypted() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    write(
        dir.path(),
        "apps/secret.sops.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  user: ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]\n  password: hunter2\nsops:\n  mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n  encrypted_regex: ^(data|stringData)$\n  version: 3.9.0\n",
    );
    assert_eq!(
        one_error(dir.path()),
        (
            "secret/sops-not-fully-encrypted".into(),
            "apps/secret.sops.yaml:7".into()
        )
    );
}

#[test]
fn leaked_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    // Assembled at run time so this source file holds no token.
    let token = format!("ghp_{}", "Zq4Xw8Rt2Yp6Lm0Nb3Vc7Kd1Hs5Jf9Gu2Ea4");
    edit(
        dir.path(),
        "apps/deployment.yaml",
        "        image: nginx:1.27\n",
        &format!(
            "        image: nginx:1.27\n        env:\n        - name: GH\n          value: {token}\n"
        ),
    );
    assert_eq!(
        one_error(dir.path()),
        (
            "secret/github-token".into(),
            "apps/deployment.yaml:22".into()
        )
    );
    // An inline allow comment silences it.
    edit(
        dir.path(),
        "apps/deployment.yaml",
        &token,
        &format!("{token} # keelson:allow"),
    );
    assert!(errors(&run(dir.path())).is_empty());
}

#[test]
fn keelsonignore_fingerprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    // AWS key ids are AKIA + 16 base32 characters (A-Z, 2-7): an 8 or a 9 makes it no key id
    // for AWS, for gitleaks or for us.
    let key = format!("AKIA{}", "Q3W5E7R2T4Y6U7I2");
    write(dir.path(), "docs/notes.txt", &format!("first\nkey {key}\n"));
    assert_eq!(
        one_error(dir.path()),
        ("secret/aws-access-key-id".into(), "docs/notes.txt:2".into())
    );
    write(
        dir.path(),
        ".keelsonignore",
        "docs/notes.txt:aws-access-key-id:2\n",
    );
    assert!(errors(&run(dir.path())).is_empty());
}

#[test]
fn gitignore_must_cover_keys_and_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    write(dir.path(), ".gitignore", "*.agekey\n");
    let report = run(dir.path());
    let warning = report
        .findings
        .iter()
        .find(|f| f.rule == "secret/gitignore-incomplete")
        .expect("gitignore warning");
    assert!(warning.message.contains("kubeconfig") && warning.message.contains("tfstate"));
    assert!(!report.failed());
}

/// A Kustomization without `interval` fails both its spec (it cannot be rendered) and its CRD's
/// schema: one finding, at the spec, naming the field.
#[test]
fn missing_interval_is_reported_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    edit(
        dir.path(),
        "clusters/prod/infra.yaml",
        "  interval: 10m\n",
        "",
    );
    let report = run(dir.path());
    let (rule, loc) = one_error(dir.path());
    assert_eq!(
        (rule.as_str(), loc.as_str()),
        ("schema/invalid", "clusters/prod/infra.yaml:6"),
        "{:#?}",
        report.findings
    );
    let finding = report
        .findings
        .iter()
        .find(|f| f.rule == "schema/invalid")
        .expect("the schema finding");
    assert!(
        finding
            .message
            .contains("\"interval\" is a required property")
            && finding.message.contains("not rendered"),
        "{}",
        finding.message
    );
}

/// Flux 2.7's `ExternalArtifact` is a source kind of Kustomizations: one an ArtifactGenerator
/// of the cluster defines is reported as an external source (info; its content is assembled
/// in the cluster); a kind outside Flux's enum is a schema error at the field.
#[test]
fn kustomization_source_kinds() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    write(
        dir.path(),
        "clusters/prod/extra.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: extra\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./extra\n  prune: true\n  sourceRef:\n    kind: ExternalArtifact\n    name: extra\n---\napiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: gen\n  namespace: flux-system\nspec:\n  sources:\n  - alias: base\n    kind: GitRepository\n    name: flux-system\n  artifacts:\n  - name: extra\n    copy:\n    - from: \"@base/infra/**\"\n      to: \"@artifact/\"\n",
    );
    let report = run(dir.path());
    assert!(errors(&report).is_empty(), "{:#?}", report.findings);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "render/external-source"
                && f.location.to_string() == "clusters/prod/extra.yaml:10"),
        "{:#?}",
        report.findings
    );
    edit(
        dir.path(),
        "clusters/prod/extra.yaml",
        "kind: ExternalArtifact",
        "kind: HelmRepository",
    );
    let report = run(dir.path());
    let schema: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "schema/invalid")
        .map(|f| f.location.to_string())
        .collect();
    assert_eq!(
        schema,
        ["clusters/prod/extra.yaml:11"],
        "{:#?}",
        report.findings
    );
}

/// The CRDs a cluster installs apply to that cluster only: another cluster bootstrapped with an
/// older Flux (whose Kustomization CRD lacks `ExternalArtifact`) does not make this one's
/// ExternalArtifact source an error, while its own objects are held to its CRDs.
#[test]
fn crds_of_one_cluster_stay_in_that_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_repo(dir.path());
    write(
        dir.path(),
        "clusters/prod/extra.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: extra\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./extra\n  prune: true\n  sourceRef:\n    kind: ExternalArtifact\n    name: extra\n",
    );
    // An "old" Kustomization CRD: sourceRef.kind limited to GitRepository.
    let old_crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: kustomizations.kustomize.toolkit.fluxcd.io\nspec:\n  group: kustomize.toolkit.fluxcd.io\n  names:\n    kind: Kustomization\n    plural: kustomizations\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              sourceRef:\n                type: object\n                properties:\n                  kind:\n                    type: string\n                    enum:\n                    - GitRepository\n";
    let staging_sync = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m\n  url: https://example.com/repo\n  ref:\n    branch: main\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/staging\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";
    write(
        dir.path(),
        "clusters/staging/flux-system/gotk-sync.yaml",
        staging_sync,
    );
    write(
        dir.path(),
        "clusters/staging/flux-system/gotk-components.yaml",
        old_crd,
    );
    write(
        dir.path(),
        "clusters/staging/flux-system/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n",
    );
    write(
        dir.path(),
        "clusters/staging/extra.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: extra\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./extra\n  prune: true\n  sourceRef:\n    kind: ExternalArtifact\n    name: extra\n",
    );
    let report = run(dir.path());
    let schema: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "schema/invalid")
        .map(|f| f.location.to_string())
        .collect();
    assert_eq!(
        schema,
        ["clusters/staging/extra.yaml:11"],
        "{:#?}",
        report.findings
    );
}
