//! HelmRepository, HelmChart and OCIRepository driven by the real flux CLI, each feeding a
//! HelmRelease by `chartRef`: a chart repository served over HTTP by `testenv/helmrepo.py`
//! (index and packages made by the real helm) and the real OCI registry (chart pushed by the
//! real `helm push`).

use keelson_testsupport::Registry;
use keelson_testsupport::charts::{ChartServer, demo_repository};

use crate::{Cluster, column, running};

/// suspend, get (SUSPENDED True), resume (waits for Ready of the new generation) of one object.
async fn suspend_resume(c: &Cluster, kind: &[&str], name: &str, kind_title: &str) {
    let mut args = vec!["suspend"];
    args.extend(kind);
    args.push(name);
    let r = c.flux(&args).await;
    c.ok(&format!("suspend {kind:?}"), &r, &[]);
    let mut args = vec!["get"];
    args.extend(kind);
    args.push(name);
    let r = c.flux(&args).await;
    c.ok(&format!("get {kind:?} (suspended)"), &r, &[]);
    assert_eq!(
        column(&r.stdout, name, "SUSPENDED").as_deref(),
        Some("True"),
        "{}",
        r.stdout
    );
    let mut args = vec!["resume"];
    args.extend(kind);
    args.push(name);
    let r = c.flux(&args).await;
    c.ok(
        &format!("resume {kind:?}"),
        &r,
        &[&format!("{kind_title} {name} reconciliation completed")],
    );
}

#[tokio::test]
async fn flux_drives_helm_repositories_and_charts() {
    let c = Cluster::start("flux-helmrepo").await;
    let n = c.name().to_string();
    let packages = demo_repository(&[("0.1.0", "hello v1"), ("0.2.0", "hello v2")]);
    let server = ChartServer::start(packages.path(), None);

    let r = c
        .flux(&[
            "create",
            "source",
            "helm",
            "charts",
            "--url",
            &server.url(),
            "--interval",
            "10m",
        ])
        .await;
    c.ok(
        "create source helm",
        &r,
        &[
            "HelmRepository source reconciliation completed",
            "fetched revision: sha256:",
        ],
    );
    let r = c.flux(&["get", "sources", "helm", "charts"]).await;
    c.ok("get sources helm", &r, &[]);
    assert_eq!(
        column(&r.stdout, "charts", "READY").as_deref(),
        Some("True"),
        "{}",
        r.stdout
    );
    let r = c.flux(&["reconcile", "source", "helm", "charts"]).await;
    c.ok("reconcile source helm", &r, &["fetched revision sha256:"]);
    suspend_resume(&c, &["source", "helm"], "charts", "HelmRepository").await;

    // A HelmChart of its own, by version constraint.
    let r = c
        .flux(&[
            "create",
            "source",
            "chart",
            "demo",
            "--source",
            "HelmRepository/charts",
            "--chart",
            "demo",
            "--chart-version",
            "0.1.x",
            "--interval",
            "10m",
        ])
        .await;
    c.ok(
        "create source chart",
        &r,
        &[
            "HelmChart source reconciliation completed",
            "fetched revision: 0.1.0",
        ],
    );
    let r = c.flux(&["get", "sources", "chart", "demo"]).await;
    assert_eq!(
        column(&r.stdout, "demo", "REVISION").as_deref(),
        Some("0.1.0"),
        "{}",
        r.stdout
    );
    let r = c.flux(&["reconcile", "source", "chart", "demo"]).await;
    c.ok("reconcile source chart", &r, &["fetched revision 0.1.0"]);
    suspend_resume(&c, &["source", "chart"], "demo", "HelmChart").await;

    // A HelmRelease by chartRef to that HelmChart; --with-source reconciles the HelmChart.
    let chart_ref = format!("HelmChart/demo.{n}");
    let r = c
        .flux(&[
            "create",
            "helmrelease",
            "from-chart",
            "--chart-ref",
            &chart_ref,
            "--interval",
            "10m",
        ])
        .await;
    c.ok(
        "create hr --chart-ref HelmChart",
        &r,
        &["HelmRelease from-chart is ready", "applied revision 0.1.0"],
    );
    let r = c
        .flux(&["reconcile", "helmrelease", "from-chart", "--with-source"])
        .await;
    c.ok(
        "reconcile hr --with-source (HelmChart)",
        &r,
        &["applied revision 0.1.0"],
    );
    // A wider range picks 0.2.0 up and the release follows.
    let r = c
        .flux(&[
            "create",
            "source",
            "chart",
            "demo",
            "--source",
            "HelmRepository/charts",
            "--chart",
            "demo",
            "--chart-version",
            "0.x",
            "--interval",
            "10m",
        ])
        .await;
    c.ok("update source chart", &r, &["fetched revision: 0.2.0"]);
    let r = c.flux(&["reconcile", "helmrelease", "from-chart"]).await;
    c.ok("reconcile hr (new chart)", &r, &["applied revision 0.2.0"]);
    let r = c.helm(&["status", "from-chart"]).await;
    c.ok(
        "helm status (new chart)",
        &r,
        &["REVISION: 2", "demo 0.2.0 installed as from-chart"],
    );

    for (what, args) in [
        ("export source helm", ["export", "source", "helm", "charts"]),
        ("export source chart", ["export", "source", "chart", "demo"]),
    ] {
        let r = c.flux(&args).await;
        c.ok(what, &r, &["apiVersion: source.toolkit.fluxcd.io/v1"]);
    }
    let r = c.flux(&["export", "source", "helm", "charts"]).await;
    c.ok("export source helm (url)", &r, &[&server.url()]);
    let r = c.flux(&["stats"]).await;
    c.ok("stats", &r, &[]);
    assert_eq!(
        running(&r.stdout, "HelmRepository").as_deref(),
        Some("1"),
        "{}",
        r.stdout
    );
    assert_eq!(
        running(&r.stdout, "HelmChart").as_deref(),
        Some("1"),
        "{}",
        r.stdout
    );
    assert_eq!(
        running(&r.stdout, "HelmRelease").as_deref(),
        Some("1"),
        "{}",
        r.stdout
    );
    let r = c.flux(&["get", "all"]).await;
    c.ok(
        "get all",
        &r,
        &[
            "helmrepository/charts",
            "helmchart/demo",
            "helmrelease/from-chart",
        ],
    );

    for (what, args) in [
        (
            "delete hr",
            vec!["delete", "helmrelease", "from-chart", "--silent"],
        ),
        (
            "delete source chart",
            vec!["delete", "source", "chart", "demo", "--silent"],
        ),
        (
            "delete source helm",
            vec!["delete", "source", "helm", "charts", "--silent"],
        ),
    ] {
        let r = c.flux(&args).await;
        c.ok(what, &r, &["deleted"]);
    }
    let r = c.helm(&["list", "-q"]).await;
    assert!(
        r.stdout.trim().is_empty(),
        "the release was uninstalled: {}",
        r.text()
    );
}

#[tokio::test]
async fn flux_drives_oci_repositories() {
    let c = Cluster::start("flux-oci").await;
    let n = c.name().to_string();
    let registry = Registry::start();
    let packages = demo_repository(&[("0.1.0", "hello v1"), ("0.2.0", "hello v2")]);
    registry.push_chart(&packages.path().join("demo-0.1.0.tgz"), "charts");
    let url = registry.url("charts/demo");

    let r = c
        .flux(&[
            "create",
            "source",
            "oci",
            "demo",
            "--url",
            &url,
            "--tag-semver",
            "0.x",
            "--insecure",
            "--interval",
            "10m",
        ])
        .await;
    c.ok(
        "create source oci",
        &r,
        &[
            "OCIRepository reconciliation completed",
            "fetched revision: 0.1.0@sha256:",
        ],
    );
    let r = c.flux(&["get", "sources", "oci", "demo"]).await;
    c.ok("get sources oci", &r, &[]);
    assert_eq!(
        column(&r.stdout, "demo", "READY").as_deref(),
        Some("True"),
        "{}",
        r.stdout
    );
    let r = c.flux(&["get", "sources", "all", "--all-namespaces"]).await;
    c.ok("get sources all -A", &r, &[&n, "ocirepository/demo"]);

    let chart_ref = format!("OCIRepository/demo.{n}");
    let r = c
        .flux(&[
            "create",
            "helmrelease",
            "from-oci",
            "--chart-ref",
            &chart_ref,
            "--interval",
            "10m",
        ])
        .await;
    c.ok(
        "create hr --chart-ref OCIRepository",
        &r,
        &["HelmRelease from-oci is ready", "applied revision 0.1.0"],
    );

    // A new tag in range: reconcile --with-source fetches it and the release upgrades.
    registry.push_chart(&packages.path().join("demo-0.2.0.tgz"), "charts");
    let r = c
        .flux(&["reconcile", "helmrelease", "from-oci", "--with-source"])
        .await;
    c.ok(
        "reconcile hr --with-source (OCI)",
        &r,
        &["applied revision 0.2.0"],
    );
    let r = c.flux(&["reconcile", "source", "oci", "demo"]).await;
    c.ok(
        "reconcile source oci",
        &r,
        &["fetched revision 0.2.0@sha256:"],
    );
    suspend_resume(&c, &["source", "oci"], "demo", "OCIRepository").await;

    let r = c.flux(&["export", "source", "oci", "demo"]).await;
    c.ok(
        "export source oci",
        &r,
        &["kind: OCIRepository", &url, "semver: 0.x", "insecure: true"],
    );
    let r = c.flux(&["events", "--for", "OCIRepository/demo"]).await;
    c.ok("events --for oci", &r, &["OCIRepository/demo"]);
    let r = c.flux(&["stats"]).await;
    c.ok("stats", &r, &[]);
    assert_eq!(
        running(&r.stdout, "OCIRepository").as_deref(),
        Some("1"),
        "{}",
        r.stdout
    );
    assert_eq!(
        running(&r.stdout, "HelmRelease").as_deref(),
        Some("1"),
        "{}",
        r.stdout
    );
    for (what, args) in [
        (
            "delete hr",
            vec!["delete", "helmrelease", "from-oci", "--silent"],
        ),
        (
            "delete source oci",
            vec!["delete", "source", "oci", "demo", "--silent"],
        ),
    ] {
        let r = c.flux(&args).await;
        c.ok(what, &r, &["deleted"]);
    }
}
