//! The false-finding classes the gate had on real home-lab repositories (issue #16, "the gate
//! on real repositories"), each seeded in a small repository: the pattern passes, and the true
//! fault next to it is still found.

use std::fs;
use std::path::Path;

use keelson_validate::render::LocalSource;
use keelson_validate::{Options, Report, Severity, validate};

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }
}

fn run(dir: &Path) -> Report {
    validate(dir, &Options::default()).expect("validate runs")
}

/// (rule, file:line) of every error and warning.
fn problems(report: &Report) -> Vec<(String, String)> {
    report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| (f.rule.clone(), f.location.to_string()))
        .collect()
}

const GITIGNORE: (&str, &str) = (".gitignore", "*.agekey\nkubeconfig\n*.tfstate\n");

/// A Flux Kustomization reading the bootstrap source.
fn ks(name: &str, ns: &str, path: &str, extra: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  interval: 1h\n  prune: true\n  path: {path}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n    namespace: flux-system\n{extra}"
    )
}

/// A shared component names its claim `${VOLSYNC_CLAIM:=${APP}}`: envsubst expands the nested
/// default, so each app's claim is named after the app. The names were compared with the
/// default left unexpanded (`${APP}` twice: a false duplicate).
#[test]
fn postbuild_variables_in_names_compared_after_substitution() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = |name: &str| {
        ks(
            name,
            "default",
            &format!("./apps/{name}"),
            &format!(
                "  components:\n  - ../../components/volsync\n  postBuild:\n    substitute:\n      APP: {name}\n"
            ),
        )
    };
    let (a, b) = (app("zigbee"), app("matter"));
    write(
        dir.path(),
        &[
            GITIGNORE,
            ("clusters/home/apps.yaml", &format!("{a}---\n{b}")),
            (
                "components/volsync/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- claim.yaml\n",
            ),
            (
                "components/volsync/claim.yaml",
                "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: \"${VOLSYNC_CLAIM:=${APP}}\"\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n",
            ),
            (
                "apps/zigbee/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: zigbee\n  namespace: default\n",
            ),
            (
                "apps/matter/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: matter\n  namespace: default\n",
            ),
        ],
    );
    let report = run(dir.path());
    assert_eq!(problems(&report), vec![], "{:#?}", report.findings);
    assert_eq!(report.stats.kustomizations, 2, "{:#?}", report.stats);
    // The same app name twice is a real duplicate, still found.
    fs::write(
        dir.path().join("clusters/home/apps.yaml"),
        format!("{a}---\n{}", b.replace("APP: matter", "APP: zigbee")),
    )
    .expect("write");
    let rules: Vec<String> = problems(&run(dir.path()))
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(rules, ["graph/duplicate-object"]);
}

/// The root Kustomization's `spec.patches` give every child its `interval`, `prune` and
/// substitution (the "defaults for all children" pattern): each child is judged as the parent
/// applies it. Without the parent's patch, the children's missing fields are real errors.
#[test]
fn children_take_defaults_from_parent_patches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parent = ks(
        "cluster-apps",
        "flux-system",
        "./apps",
        "  patches:\n  - patch: |-\n      apiVersion: kustomize.toolkit.fluxcd.io/v1\n      kind: Kustomization\n      metadata:\n        name: _\n      spec:\n        interval: 30m\n        prune: true\n        postBuild:\n          substitute:\n            TIER: web\n    target:\n      group: kustomize.toolkit.fluxcd.io\n      kind: Kustomization\n",
    );
    write(
        dir.path(),
        &[
            GITIGNORE,
            ("clusters/home/apps.yaml", &parent),
            (
                "apps/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- web/ks.yaml\n",
            ),
            (
                "apps/web/ks.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web\n  namespace: default\nspec:\n  path: ./apps/web/app\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n    namespace: flux-system\n",
            ),
            (
                "apps/web/app/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\ndata:\n  tier: ${TIER}\n",
            ),
        ],
    );
    let report = run(dir.path());
    assert_eq!(problems(&report), vec![], "{:#?}", report.findings);
    assert_eq!(report.stats.kustomizations, 2, "{:#?}", report.stats);
    // Without the parent's patch the child has neither interval nor prune, nor TIER.
    fs::write(
        dir.path().join("clusters/home/apps.yaml"),
        ks("cluster-apps", "flux-system", "./apps", ""),
    )
    .expect("write");
    let mut rules: Vec<String> = problems(&run(dir.path()))
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    rules.sort();
    assert_eq!(rules, ["schema/invalid", "schema/invalid"]);
}

/// Several cluster folders each hold a `cluster-info` ConfigMap (applied by that cluster's
/// bootstrap sync, rendered by no Kustomization of the repository): each cluster substitutes
/// its own. The first one in the repository was used for every cluster, leaving variables
/// only the others define empty (`STORAGE_NS: null` in every child: false schema errors).
#[test]
fn each_cluster_reads_its_own_cluster_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files: Vec<(String, String)> = vec![(GITIGNORE.0.into(), GITIGNORE.1.into())];
    for (cluster, extra) in [("main", ""), ("test", "  STORAGE_NS: storage\n")] {
        files.push((
            format!("clusters/{cluster}/apps.yaml"),
            ks(
                "cluster-apps",
                "flux-system",
                &format!("./apps/{cluster}"),
                "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: cluster-info\n",
            ),
        ));
        files.push((
            format!("clusters/{cluster}/cluster-info.yaml"),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-info\n  namespace: flux-system\ndata:\n  CLUSTER: {cluster}\n{extra}"),
        ));
    }
    files.push((
        "apps/main/cm.yaml".into(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info\n  namespace: default\ndata:\n  cluster: ${CLUSTER}\n".into(),
    ));
    files.push((
        "apps/test/cm.yaml".into(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info\n  namespace: default\ndata:\n  cluster: ${CLUSTER}\n  storage: ${STORAGE_NS}\n".into(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    write(dir.path(), &refs);
    let report = run(dir.path());
    assert_eq!(problems(&report), vec![], "{:#?}", report.findings);
    let storage: Vec<&str> = report
        .findings
        .iter()
        .map(|f| f.rule.as_str())
        .filter(|r| r.contains("unresolved"))
        .collect();
    assert!(storage.is_empty(), "{storage:?}");
    // A variable no cluster defines is still reported.
    fs::write(
        dir.path().join("apps/main/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info\n  namespace: default\ndata:\n  storage: ${STORAGE_NS}\n",
    )
    .expect("write");
    assert_eq!(
        problems(&run(dir.path())),
        [(
            "render/unresolved-variable".to_string(),
            "apps/main/cm.yaml:7".to_string()
        )]
    );
}

/// Flux Operator's "sync from OCI": the entry Kustomizations read an `OCIRepository` (made by
/// the FluxInstance, not in git) whose artifact is the `kubernetes/` folder, so their paths
/// are relative to it. The one folder that holds every path is mapped automatically (a
/// note); `--local-sources` maps it explicitly, and a wrong mapping is a located error.
#[test]
fn entry_reads_oci_repository_mapped_to_a_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entry = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: cluster-apps\n  namespace: flux-system\nspec:\n  interval: 1h\n  prune: true\n  path: ./apps\n  sourceRef:\n    kind: OCIRepository\n    name: flux-system\n";
    write(
        dir.path(),
        &[
            GITIGNORE,
            ("kubernetes/flux/cluster/ks.yaml", entry),
            (
                "kubernetes/apps/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- web/ks.yaml\n",
            ),
            (
                "kubernetes/apps/web/ks.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web\n  namespace: default\nspec:\n  interval: 1h\n  prune: true\n  path: ./apps/web/app\n  sourceRef:\n    kind: OCIRepository\n    name: flux-system\n    namespace: flux-system\n",
            ),
            (
                "kubernetes/apps/web/app/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\n",
            ),
        ],
    );
    let report = run(dir.path());
    assert_eq!(problems(&report), vec![], "{:#?}", report.findings);
    assert_eq!(report.stats.kustomizations, 2, "{:#?}", report.stats);
    let mapped: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.rule == "render/local-source-mapped")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(mapped.len(), 1, "{:#?}", report.findings);
    assert!(mapped[0].contains("./kubernetes"), "{}", mapped[0]);
    // Explicitly, as flux's --local-sources takes it.
    let options = Options {
        local_sources: vec![
            "OCIRepository/flux-system/flux-system=./kubernetes"
                .parse::<LocalSource>()
                .expect("parses"),
        ],
        ..Options::default()
    };
    let report = validate(dir.path(), &options).expect("validate runs");
    assert_eq!(problems(&report), vec![], "{:#?}", report.findings);
    assert_eq!(report.stats.kustomizations, 2);
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.rule == "render/local-source-mapped")
    );
    // Mapped to the wrong folder, the paths are missing there (true errors; no path then
    // contains web's ks.yaml, so it is an entry point too).
    let options = Options {
        local_sources: vec![
            "OCIRepository/flux-system/flux-system=./kubernetes/flux"
                .parse()
                .expect("parses"),
        ],
        ..Options::default()
    };
    let report = validate(dir.path(), &options).expect("validate runs");
    let mut found = problems(&report);
    found.sort();
    assert_eq!(
        found,
        [
            (
                "graph/missing-path".to_string(),
                "kubernetes/apps/web/ks.yaml:9".to_string()
            ),
            (
                "graph/missing-path".to_string(),
                "kubernetes/flux/cluster/ks.yaml:9".to_string()
            )
        ]
    );
}

/// An `.archive/` folder that no entry point reaches holds a broken kustomization and a Flux
/// Kustomization: nothing deploys them, so they are listed as notes and not validated; the
/// same folder once referenced is built and its fault found.
#[test]
fn unreachable_folders_are_notes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        &[
            GITIGNORE,
            (
                "clusters/home/apps.yaml",
                &ks("apps", "flux-system", "./apps", ""),
            ),
            (
                "apps/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n",
            ),
            (
                "apps/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: default\n",
            ),
            (
                "apps/.archive/old/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ks.yaml\n- gone.yaml\n",
            ),
            (
                "apps/.archive/old/ks.yaml",
                &ks("old", "default", "./apps/.archive/old/app", ""),
            ),
        ],
    );
    let report = run(dir.path());
    assert_eq!(problems(&report), vec![], "{:#?}", report.findings);
    let notes: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "render/unreachable")
        .map(|f| format!("{} {}", f.location, f.object.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        notes,
        ["apps/.archive/old/ks.yaml:1 Kustomization/default/old"]
    );
    assert_eq!(report.stats.plain_trees, 0);
    fs::write(
        dir.path().join("apps/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n- .archive/old\n",
    )
    .expect("write");
    assert_eq!(
        problems(&run(dir.path())),
        [(
            "render/build-failed".to_string(),
            "apps/.archive/old/kustomization.yaml:5".to_string()
        )]
    );
}

/// Values that name a credential (a file path, a file name with hex in it, a Secret's name, a
/// key name, the host a keyless local server also answers on) are not credentials; Secret
/// templates whose values are 1Password references or postBuild variables are not plaintext
/// Secrets. Real key material is still found, also deep in a large rendered manifest.
#[test]
fn secret_scan_references_are_not_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  WEBHOOK_SECRET_FILE: /run/secrets/webhook_secret\n  secretKey: app-7c48d-e078848c9fb0.json\n  existingSecret: oauth2-proxy-dex\n  secretName: runner-token-7f3k2\n  apiBase: http://llama-strix-fp8.llm:8080/v1\n  apiKey: llama-strix-fp8\n  keyName: CONTEXT7_API_KEY\n";
    let template = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\nstringData:\n  username: op://homelab/db/username\n  password: op://homelab/db/password\n  RESTIC_REPOSITORY: s3:${SECRET_S3_ENDPOINT}/restic/${APP}\n";
    write(
        dir.path(),
        &[
            GITIGNORE,
            (
                "clusters/home/apps.yaml",
                &ks("apps", "flux-system", "./apps", ""),
            ),
            ("apps/config.yaml", config),
            ("apps/secret.yaml", template),
        ],
    );
    let report = run(dir.path());
    assert_eq!(problems(&report), vec![], "{:#?}", report.findings);
    // Real secrets next to them: a high-entropy password, a Secret with a literal value, and
    // a PEM private key after 20 000 lines of rendered manifests.
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n".repeat(3);
    let filler =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: filler\n  namespace: default\ndata:\n"
            .to_string()
            + &(0..20_000)
                .map(|i| format!("  k{i}: v\n"))
                .collect::<String>();
    let large = format!(
        "{filler}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keys\n  namespace: default\ndata:\n  key: |\n    -----BEGIN PRIVATE KEY-----\n{}    -----END PRIVATE KEY-----\n",
        body.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    write(
        dir.path(),
        &[
            (
                "apps/config.yaml",
                &format!("{config}  password: \"Zx8kQ2pL9vR4tY7mW3\"\n"),
            ),
            (
                "apps/secret.yaml",
                &template.replace("op://homelab/db/password", "hunter2"),
            ),
            ("apps/rendered.yaml", &large),
        ],
    );
    let key_line = large
        .lines()
        .position(|l| l.contains("BEGIN PRIVATE KEY"))
        .expect("key line")
        + 1;
    let mut found = problems(&run(dir.path()));
    found.sort();
    assert_eq!(
        found,
        [
            (
                "secret/generic-credential".to_string(),
                "apps/config.yaml:14".to_string()
            ),
            (
                "secret/private-key".to_string(),
                format!("apps/rendered.yaml:{key_line}")
            ),
            (
                "secret/unencrypted-secret".to_string(),
                "apps/secret.yaml:6".to_string()
            ),
        ]
    );
}

/// `values:` left empty (null) is no schema error: the apiserver drops null fields before it
/// validates. A wrong type is still one.
#[test]
fn helmrelease_null_values_are_not_schema_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hr = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n  namespace: default\nspec:\n  interval: 1h\n  chart:\n    spec:\n      chart: web\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n  values:\n";
    let repo = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: default\nspec:\n  interval: 1h\n  url: https://charts.example.com\n";
    write(
        dir.path(),
        &[
            GITIGNORE,
            (
                "clusters/home/apps.yaml",
                &ks("apps", "flux-system", "./apps", ""),
            ),
            ("apps/hr.yaml", hr),
            ("apps/repo.yaml", repo),
        ],
    );
    let report = run(dir.path());
    assert_eq!(problems(&report), vec![], "{:#?}", report.findings);
    fs::write(dir.path().join("apps/hr.yaml"), format!("{hr}    - a\n")).expect("write");
    assert_eq!(
        problems(&run(dir.path())),
        [("schema/invalid".to_string(), "apps/hr.yaml:14".to_string())]
    );
}

/// A remote resource (`https://…/crd.yaml`) is fetched by the controller: offline it cannot be
/// checked, a warning, not an error of the repository.
#[test]
fn remote_resources_are_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        &[
            GITIGNORE,
            (
                "clusters/home/apps.yaml",
                &ks("apps", "flux-system", "./apps", ""),
            ),
            (
                "apps/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- https://example.com/crd.yaml\n",
            ),
        ],
    );
    let report = run(dir.path());
    assert!(!report.failed(), "{:#?}", report.findings);
    let rules: Vec<(String, String)> = problems(&report);
    assert_eq!(
        rules,
        [(
            "render/remote-resource".to_string(),
            "apps/kustomization.yaml:4".to_string()
        )]
    );
}
