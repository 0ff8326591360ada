//! The real Flux repositories of the shared corpus: each renders completely, and what the gate
//! reports about them is asserted (their real findings, not a clean bill by assumption).

use std::path::PathBuf;

use keelson_validate::{Options, Report, Severity, validate};

fn corpus(rel: &str) -> PathBuf {
    let shared = std::env::var_os("KEELSON_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
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
    // clusters/*/flux-system (the bootstrap kustomization.yaml no Flux object in the
    // repository reaches)
    assert_eq!(report.stats.plain_trees, 2, "{:#?}", report.stats);
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
