//! The real Flux repositories of the shared corpus: each renders completely, and what the gate
//! reports about them is asserted (their real findings, not a clean bill by assumption).

use std::path::PathBuf;

use keelson_validate::{Options, Report, Severity, validate};

fn corpus(rel: &str) -> PathBuf {
    let shared = keelson_testsupport::shared_dir();
    shared.join("corpus").join(rel)
}

fn run(rel: &str) -> Report {
    validate(&corpus(rel), &Options::default()).expect("validate runs")
}

fn summary(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{} {}", f.rule, f.location))
        .collect()
}

#[test]
fn flux2_kustomize_helm_example() {
    let report = run("flux-repos/flux2-kustomize-helm-example");
    assert!(report.stats.kustomizations >= 6, "{:#?}", report.stats);
    assert!(report.stats.validated >= 6, "{:#?}", report.stats);
    assert_eq!(
        summary(&report),
        Vec::<String>::new(),
        "{:#?}",
        report.findings
    );
}

/// Each cluster folder (staging, production) holds Kustomizations reading the bootstrap
/// source `flux-system`, defined nowhere in the repository (`gotk-sync.yaml` is a placeholder
/// that bootstrap fills): that is this repository. The tenant's `dev-team` Kustomization
/// (`tenants/base`, no path: the root of *its* source) reads the tenant's own GitRepository and
/// kyverno's reads an OCIRepository: both are defined here and point elsewhere, so neither is an
/// entry point (rendering the repository root as one gave duplicate ids) nor rendered; they
/// are reported as external. `tenants/*/dev-team-patch.yaml` are patches (no sourceRef), not
/// Kustomizations.
#[test]
fn flux2_multi_tenancy() {
    let report = run("flux-repos/flux2-multi-tenancy");
    assert_eq!(
        summary(&report),
        Vec::<String>::new(),
        "{:#?}",
        report.findings
    );
    // kyverno, kyverno-policies and tenants in each of the two clusters
    assert_eq!(report.stats.kustomizations, 6, "{:#?}", report.stats);
    // clusters/*/flux-system (the bootstrap kustomization.yaml, whose gotk-sync.yaml is an
    // empty placeholder) is reached by no entry point: not built (it holds no Flux object).
    assert_eq!(report.stats.plain_trees, 0, "{:#?}", report.stats);
    let mut external: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "render/external-source")
        .map(|f| format!("{} {}", f.location, f.object.as_deref().unwrap_or("")))
        .collect();
    external.sort();
    assert_eq!(
        external,
        [
            "infrastructure/kyverno/sync.yaml:8 Kustomization/flux-system/kyverno-controller",
            "tenants/base/dev-team/sync.yaml:20 Kustomization/apps/dev-team",
        ]
    );
    // The .gitignore misses age keys, kubeconfigs and Terraform state: a real warning.
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "secret/gitignore-incomplete" && f.severity == Severity::Warning)
    );
}

#[test]
fn flux2_monitoring_example() {
    let report = run("flux-repos/flux2-monitoring-example");
    assert!(report.stats.kustomizations >= 2, "{:#?}", report.stats);
    assert_eq!(
        summary(&report),
        Vec::<String>::new(),
        "{:#?}",
        report.findings
    );
}

/// flux-local's test data: twelve small clusters in one repository, several broken on purpose.
/// Every error is asserted (Flux's source kinds are validated since keelson_api::crds() has
/// them). cluster11's Kustomization reads an `ExternalArtifact` (Flux 2.7): valid, although
/// cluster9 installs Flux 2.2.3's CRDs, which apply to cluster9 only.
#[test]
fn flux_local_testdata() {
    let report = run("flux-repos/flux-local-testdata");
    assert!(report.stats.kustomizations >= 30, "{:#?}", report.stats);
    // cluster9's nginx and cluster12's flag-fixture have their charts in this repository and
    // are rendered (their objects valid); the rest are skipped with a reason: HelmRepository
    // charts (no --chart-cache here), OCIRepository chartRefs, another repository's chart.
    // Five more sit in kustomizations no entry point reaches: notes, not rendered.
    assert_eq!(report.stats.helm_releases, 2, "{:#?}", report.stats);
    let skipped = report
        .findings
        .iter()
        .filter(|f| f.rule == "helm/skipped")
        .count();
    assert_eq!(skipped, 14, "{:#?}", report.findings);
    let unreached = report
        .findings
        .iter()
        .filter(|f| f.rule == "render/unreachable" && f.message.starts_with("HelmRelease/"))
        .count();
    assert!(unreached >= 5, "{:#?}", report.findings);
    let t = "tests/testdata";
    let mut expected = vec![
        // Plain-text Secrets committed (data or stringData, no SOPS).
        format!(
            "secret/unencrypted-secret {t}/cluster/clusters/prod/flux-system/cluster-secrets.yaml:7"
        ),
        format!("secret/unencrypted-secret {t}/cluster8/apps/podinfo-tls-values.yaml:6"),
        format!("secret/unencrypted-secret {t}/cluster9/apps/podinfo/repository.yaml:26"),
        format!("secret/unencrypted-secret {t}/repo/cluster-secrets.yaml:7"),
        // Kustomizations without the required interval and prune (Flux's CRD requires both;
        // the missing interval, which also keeps them from rendering, is reported once).
        format!("schema/invalid {t}/cluster11/cluster/apps.yaml:7"),
        format!("schema/invalid {t}/cluster11/cluster/apps.yaml:7"),
        format!("schema/invalid {t}/cluster6/cluster/apps.yaml:7"),
        format!("schema/invalid {t}/cluster6/cluster/apps.yaml:7"),
        // A HelmRelease and a HelmChart without the required interval. (cluster8's
        // `helm.toolkit.fluxcd.io/v2beta1` HelmRelease, whose valuesFrom targetPath is outside
        // Flux 2.2.3's pattern, is no longer checked against cluster9's CRDs: no CRD of its
        // own cluster describes v2beta1, so it is an unknown kind, info.)
        format!("schema/invalid {t}/cluster7/flux/apps/ingress-nginx/release.yaml:7"),
        format!("schema/invalid {t}/cluster7/flux/apps/ingress-nginx/chart.yaml:7"),
        // Pods without containers, an image given as a map (the image_error fixture).
        format!("schema/invalid {t}/cluster8/apps/pods.yaml:26"),
        format!("schema/invalid {t}/image_error/apps/pods.yaml:26"),
        format!("schema/invalid {t}/image_error/apps/pods.yaml:29"),
        // Sources that do not exist: a HelmRepository no Kustomization deploys, and a
        // sourceRef without namespace in namespace `controllers` (it defaults to the
        // Kustomization's own: controllers/flux-system).
        format!("graph/missing-source {t}/cluster4/apps/monitoring/headlamp/helmrelease.yaml:13"),
        format!("graph/missing-source {t}/cluster5/clusters/prod/infrastructure.yaml:11"),
    ];
    expected.sort();
    let mut found = summary(&report);
    found.sort();
    assert_eq!(found, expected, "{:#?}", report.findings);
}

// ---------------------------------------------------------------------------------------------
// Maintained home-lab repositories that deploy with Flux today. Each passes but for the
// findings listed with their reasons; every warning is of a class listed with its reason.

/// Warnings the home-lab repositories have, and why each is true of the corpus copy.
const HOME_LAB_WARNINGS: &[(&str, &str)] = &[
    (
        "secret/gitignore-incomplete",
        "the corpus copy has every .gitignore removed (SOURCES.md)",
    ),
    (
        "render/substitution-source-missing",
        "cluster substitution Secrets are made at bootstrap or by external-secrets, not in git",
    ),
    (
        "render/unresolved-variable",
        "a variable only those missing Secrets define (a warning, not an error, for that reason)",
    ),
    (
        "render/remote-resource",
        "a kustomization lists an https resource, which the offline gate cannot fetch",
    ),
];

/// The errors, each `rule file:line`, and the warnings, checked against [`HOME_LAB_WARNINGS`];
/// returns how many warnings of each rule.
fn home_lab(
    rel: &str,
    expected: &[(String, &str)],
) -> (Report, std::collections::BTreeMap<String, usize>) {
    let report = run(rel);
    let mut found = summary(&report);
    found.sort();
    let mut want: Vec<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    want.sort();
    assert_eq!(found, want, "{:#?}", report.findings);
    let mut warnings = std::collections::BTreeMap::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
    {
        assert!(
            HOME_LAB_WARNINGS.iter().any(|(rule, _)| *rule == f.rule),
            "unexpected warning: {f:#?}"
        );
        *warnings.entry(f.rule.clone()).or_insert(0) += 1;
    }
    (report, warnings)
}

/// Three clusters (main, test, utility) over shared apps/base and components, each with its
/// own `cluster-info` ConfigMap; children take their postBuild defaults from cluster-apps'
/// patches.
#[test]
fn joryirving_home_ops() {
    let dir = "kubernetes/apps/base/observability";
    let (report, warnings) = home_lab(
        "flux-repos/joryirving-home-ops",
        &[
            // gatus-sidecar's grafanadashboard.yaml is a copy of nut-exporter's: both
            // Kustomizations apply the same two GrafanaDashboards (main and utility clusters
            // deploy gatus-sidecar; only one of them nut-exporter).
            (
                format!(
                    "graph/duplicate-object {dir}/exporters/nut-exporter/grafanadashboard.yaml:2"
                ),
                "GrafanaDashboard ups-aggregate deployed twice",
            ),
            (
                format!(
                    "graph/duplicate-object {dir}/exporters/nut-exporter/grafanadashboard.yaml:17"
                ),
                "GrafanaDashboard ups-status deployed twice",
            ),
        ],
    );
    assert!(report.stats.kustomizations >= 240, "{:#?}", report.stats);
    assert_eq!(report.stats.plain_trees, 0);
    // Only acars' Secrets (acars-processor, acarsdrama) are not in git.
    assert_eq!(
        warnings.get("render/substitution-source-missing"),
        Some(&2),
        "{warnings:?}"
    );
}

/// One compact cluster, OCIRepository + chartRef everywhere. `runners/home-operations`
/// lists a missing `rbac.yaml` but is commented out of `runners/kustomization.yaml`: nothing
/// deploys it, so it is a note, not an error.
#[test]
fn buroa_k8s_gitops() {
    let (report, warnings) = home_lab("flux-repos/buroa-k8s-gitops", &[]);
    assert!(report.stats.kustomizations >= 70, "{:#?}", report.stats);
    assert_eq!(warnings.get("secret/gitignore-incomplete"), Some(&1));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(report.findings.iter().any(|f| {
        f.rule == "render/unreachable"
            && f.location
                .file
                .ends_with("runners/home-operations/helmrelease.yaml")
    }));
}

/// Three clusters over shared apps/base; SOPS files (not decryptable here) with
/// `decryption:`.
#[test]
fn haraldkoch_kochhaus_home() {
    let (report, warnings) = home_lab(
        "flux-repos/haraldkoch-kochhaus-home",
        &[(
            "render/build-failed kubernetes/apps/base/observability/grafana/instance/kustomization.yaml:7".to_string(),
            "grafana.yaml was removed from the corpus copy (it holds a plaintext token; SOURCES.md)",
        )],
    );
    assert!(report.stats.kustomizations >= 180, "{:#?}", report.stats);
    // dragonfly-operator's crd.yaml and tekton operator's release.yaml
    assert_eq!(
        warnings.get("render/remote-resource"),
        Some(&2),
        "{warnings:?}"
    );
}

/// A k3s cluster whose children all substitute from `cluster-secrets` (made by
/// external-secrets, not in git): their variables are warnings.
#[test]
fn ahgraber_homelab_gitops_k3s() {
    let dir = "kubernetes/apps";
    let (report, warnings) = home_lab(
        "flux-repos/ahgraber-homelab-gitops-k3s",
        &[
            // apps/flux-system/kustomization.yaml adds components/alerts (Provider and Alert
            // alertmanager, moved to flux-system by its `namespace:`), and flux-instance's
            // app/observability defines the same two: both Kustomizations apply them.
            (
                format!(
                    "graph/duplicate-object {dir}/flux-system/flux-instance/app/observability/notification.yaml:1"
                ),
                "Provider flux-system/alertmanager deployed twice",
            ),
            (
                format!(
                    "graph/duplicate-object {dir}/flux-system/flux-instance/app/observability/notification.yaml:11"
                ),
                "Alert flux-system/alertmanager deployed twice",
            ),
            // goldilocks and vpa each define HelmRepository observability/fairwinds.
            (
                format!("graph/duplicate-object {dir}/observability/vpa/app/source.yaml:1"),
                "HelmRepository observability/fairwinds deployed twice",
            ),
        ],
    );
    assert!(report.stats.kustomizations >= 90, "{:#?}", report.stats);
    assert!(
        warnings
            .get("render/substitution-source-missing")
            .is_some_and(|&n| n > 50)
    );
}
