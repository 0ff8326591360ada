//! HelmRelease driven by the real flux CLI, and the real helm CLI on keelson's release: what
//! helm reads (list, status, history, get values|manifest|hooks|notes) and what a user does by
//! hand (`helm rollback`, `helm uninstall`) that keelson then undoes, as helm-controller does.

use keelson_api::HelmRelease;
use kube::api::Api;
use serde_json::Value;

use crate::{Cluster, column, running};

const CHART: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.0\"\n";
const CONFIGMAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: {{ .Values.greeting | quote }}\n";
// A hook of a kind that needs no running Pod (kwok runs none), so helm waits for nothing.
const HOOK: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-hook\n  annotations:\n    helm.sh/hook: post-install,post-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation\ndata:\n  revision: {{ .Release.Revision | quote }}\n";
const NOTES: &str =
    "demo {{ .Chart.Version }} says {{ .Values.greeting }} in {{ .Release.Namespace }}.\n";

async fn greeting(c: &Cluster) -> Option<String> {
    let cm = c.configmap("demo").await?;
    cm.data?.get("greeting").cloned()
}

/// `helm ARGS -o json`, which must succeed.
async fn helm_json(c: &Cluster, what: &str, args: &[&str]) -> Value {
    let mut full = args.to_vec();
    full.extend(["-o", "json"]);
    let r = c.helm(&full).await;
    c.ok(what, &r, &[]);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{what}: {e}: {}", r.stdout))
}

async fn history(c: &Cluster) -> Vec<(i64, String)> {
    let h = helm_json(c, "helm history", &["history", "demo"]).await;
    h.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn flux_and_helm_drive_helm_releases() {
    let c = Cluster::start("flux-hr").await;
    let n = c.name().to_string();
    let repo = keelson_testsupport::git::TestRepo::over_http();
    repo.write("charts/demo/Chart.yaml", CHART);
    repo.write("charts/demo/values.yaml", "greeting: hello\n");
    repo.write("charts/demo/templates/cm.yaml", CONFIGMAP);
    repo.write("charts/demo/templates/hook.yaml", HOOK);
    repo.write("charts/demo/templates/NOTES.txt", NOTES);
    repo.push("chart");
    let url = repo.url();
    let values = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(values.path(), "greeting: from-flux\n").unwrap();

    // create (waits for Ready), with a values file.
    let r = c
        .flux(&[
            "create",
            "source",
            "git",
            "charts",
            "--url",
            &url,
            "--branch",
            "main",
            "--interval",
            "10m",
        ])
        .await;
    c.ok("create source git", &r, &["fetched revision"]);
    let r = c
        .flux(&[
            "create",
            "helmrelease",
            "demo",
            "--source",
            "GitRepository/charts",
            "--chart",
            "./charts/demo",
            "--interval",
            "10m",
            "--values",
            values.path().to_str().unwrap(),
        ])
        .await;
    c.ok(
        "create helmrelease",
        &r,
        &["HelmRelease demo is ready", "applied revision 0.1.0"],
    );
    assert_eq!(greeting(&c).await.as_deref(), Some("from-flux"));

    // get: one, all namespaces, and the HelmChart made for spec.chart.
    let r = c.flux(&["get", "helmreleases", "demo"]).await;
    c.ok("get hr", &r, &["demo"]);
    assert_eq!(
        column(&r.stdout, "demo", "READY").as_deref(),
        Some("True"),
        "{}",
        r.stdout
    );
    assert_eq!(
        column(&r.stdout, "demo", "REVISION").as_deref(),
        Some("0.1.0"),
        "{}",
        r.stdout
    );
    let r = c.flux(&["get", "helmreleases", "--all-namespaces"]).await;
    c.ok("get hr -A", &r, &[&n, "demo"]);
    let r = c.flux(&["get", "sources", "chart"]).await;
    c.ok("get sources chart", &r, &[&format!("{n}-demo")]);
    assert_eq!(
        column(&r.stdout, &format!("{n}-demo"), "READY").as_deref(),
        Some("True"),
        "{}",
        r.stdout
    );

    // The helm CLI reads keelson's release records.
    let list = helm_json(&c, "helm list", &["list"]).await;
    assert_eq!(list[0]["name"], "demo", "{list}");
    assert_eq!(list[0]["status"], "deployed", "{list}");
    assert_eq!(list[0]["chart"], "demo-0.1.0", "{list}");
    assert_eq!(list[0]["app_version"], "1.0", "{list}");
    let r = c.helm(&["status", "demo"]).await;
    c.ok(
        "helm status",
        &r,
        &[
            "STATUS: deployed",
            "REVISION: 1",
            &format!("demo 0.1.0 says from-flux in {n}."),
        ],
    );
    let r = c.helm(&["get", "values", "demo"]).await;
    c.ok(
        "helm get values",
        &r,
        &["USER-SUPPLIED VALUES:", "greeting: from-flux"],
    );
    let r = c.helm(&["get", "values", "demo", "--all"]).await;
    c.ok(
        "helm get values --all",
        &r,
        &["COMPUTED VALUES:", "greeting: from-flux"],
    );
    let r = c.helm(&["get", "manifest", "demo"]).await;
    c.ok(
        "helm get manifest",
        &r,
        &[
            "# Source: demo/templates/cm.yaml",
            "name: demo",
            "greeting: \"from-flux\"",
        ],
    );
    assert!(
        !r.stdout.contains("demo-hook"),
        "hooks are not in the manifest:\n{}",
        r.stdout
    );
    let r = c.helm(&["get", "hooks", "demo"]).await;
    c.ok(
        "helm get hooks",
        &r,
        &["# Source: demo/templates/hook.yaml", "name: demo-hook"],
    );
    let r = c.helm(&["get", "notes", "demo"]).await;
    c.ok(
        "helm get notes",
        &r,
        &["NOTES:", &format!("demo 0.1.0 says from-flux in {n}.")],
    );
    assert_eq!(history(&c).await, vec![(1, "deployed".to_string())]);

    // reconcile: plain and with the source change nothing; --force upgrades anyway.
    let r = c.flux(&["reconcile", "helmrelease", "demo"]).await;
    c.ok("reconcile hr", &r, &["applied revision 0.1.0"]);
    let r = c
        .flux(&["reconcile", "helmrelease", "demo", "--with-source"])
        .await;
    c.ok(
        "reconcile hr --with-source",
        &r,
        &["applied revision 0.1.0"],
    );
    assert_eq!(history(&c).await.len(), 1, "nothing changed, so no upgrade");
    let r = c
        .flux(&["reconcile", "helmrelease", "demo", "--force"])
        .await;
    c.ok("reconcile hr --force", &r, &["applied revision 0.1.0"]);
    c.until("the forced upgrade", || async {
        history(&c).await.len() == 2
    })
    .await;

    // The bug this suite was made for: after a resume (a new generation that needs no upgrade)
    // flux waits for a Ready condition of that generation.
    let r = c.flux(&["suspend", "helmrelease", "demo"]).await;
    c.ok("suspend hr", &r, &["suspending helmrelease demo"]);
    let r = c.flux(&["get", "helmreleases", "demo"]).await;
    assert_eq!(
        column(&r.stdout, "demo", "SUSPENDED").as_deref(),
        Some("True"),
        "{}",
        r.stdout
    );
    let r = c.flux(&["resume", "helmrelease", "demo"]).await;
    c.ok(
        "resume hr",
        &r,
        &["HelmRelease demo reconciliation completed"],
    );
    let releases: Api<HelmRelease> = c.ns.api();
    let hr = serde_json::to_value(releases.get("demo").await.unwrap()).unwrap();
    let generation = hr["metadata"]["generation"].clone();
    assert_eq!(hr["status"]["observedGeneration"], generation);
    for cond in hr["status"]["conditions"].as_array().unwrap() {
        assert_eq!(
            cond["observedGeneration"], generation,
            "condition {cond} is behind"
        );
    }

    // A new desired state: values in the spec (what the Git side would change).
    let patch = serde_json::json!({"spec": {"values": {"greeting": "v2"}}});
    releases
        .patch(
            "demo",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let r = c.flux(&["reconcile", "helmrelease", "demo"]).await;
    c.ok("reconcile hr (new values)", &r, &["applied revision 0.1.0"]);
    c.until("the v2 values", || async {
        greeting(&c).await.as_deref() == Some("v2")
    })
    .await;
    let upgraded = history(&c).await.last().unwrap().0;

    // `helm rollback` by hand: the release is no longer the one keelson made (Flux calls it
    // unmanaged), so the next reconcile upgrades back to the desired values.
    // Helm 4 rolls back with server-side apply: the fields keelson applied belong to the field
    // manager `helm-controller` (as under Flux 2.9), so a plain rollback conflicts and the user
    // forces it.
    let r = c.helm(&["rollback", "demo", "1"]).await;
    assert_eq!(r.code, 1, "a plain rollback conflicts:\n{}", r.text());
    assert!(
        r.text().contains("conflict with \"helm-controller\""),
        "{}",
        r.text()
    );
    let r = c
        .helm(&["rollback", "demo", "1", "--force-conflicts"])
        .await;
    c.ok(
        "helm rollback --force-conflicts",
        &r,
        &["Rollback was a success"],
    );
    assert_eq!(
        greeting(&c).await.as_deref(),
        Some("from-flux"),
        "helm rolled back"
    );
    let r = c.flux(&["reconcile", "helmrelease", "demo"]).await;
    c.ok(
        "reconcile hr (after helm rollback)",
        &r,
        &["applied revision 0.1.0"],
    );
    c.until("keelson's upgrade after the rollback", || async {
        greeting(&c).await.as_deref() == Some("v2")
    })
    .await;
    let h = history(&c).await;
    // upgraded+1: helm's failed (conflicting) rollback, +2: the forced one, +3: keelson's upgrade.
    assert!(h.contains(&(upgraded + 1, "failed".to_string())), "{h:?}");
    assert_eq!(
        h.last().unwrap().0,
        upgraded + 3,
        "rollback, then keelson's upgrade: {h:?}"
    );
    assert_eq!(h.last().unwrap().1, "deployed");

    // `helm uninstall` by hand: keelson installs it again.
    let r = c.helm(&["uninstall", "demo"]).await;
    c.ok("helm uninstall", &r, &["release \"demo\" uninstalled"]);
    c.until("the uninstalled ConfigMap", || async {
        c.configmap("demo").await.is_none()
    })
    .await;
    let r = c.flux(&["reconcile", "helmrelease", "demo"]).await;
    c.ok(
        "reconcile hr (after helm uninstall)",
        &r,
        &["applied revision 0.1.0"],
    );
    c.until("the reinstalled release", || async {
        greeting(&c).await.as_deref() == Some("v2")
    })
    .await;
    assert_eq!(history(&c).await, vec![(1, "deployed".to_string())]);

    // inspect, then delete: the release is uninstalled.
    let r = c.flux(&["events", "--for", "HelmRelease/demo"]).await;
    c.ok("events --for hr", &r, &["HelmRelease/demo"]);
    let r = c
        .flux(&[
            "trace",
            "demo",
            "--kind",
            "ConfigMap",
            "--api-version",
            "v1",
        ])
        .await;
    c.ok(
        "trace (helm)",
        &r,
        &["HelmRelease:", "demo", "GitRepository:", "charts"],
    );
    let r = c.flux(&["export", "helmrelease", "demo"]).await;
    c.ok(
        "export hr",
        &r,
        &["kind: HelmRelease", "chart: ./charts/demo", "greeting: v2"],
    );
    let r = c.flux(&["stats"]).await;
    c.ok("stats", &r, &[]);
    assert_eq!(
        running(&r.stdout, "GitRepository").as_deref(),
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
    let r = c.flux(&["delete", "helmrelease", "demo", "--silent"]).await;
    c.ok("delete hr", &r, &["deleted"]);
    c.until("the uninstalled ConfigMap", || async {
        c.configmap("demo").await.is_none()
    })
    .await;
    let r = c.helm(&["list", "-q"]).await;
    c.ok("helm list (after delete)", &r, &[]);
    assert!(r.stdout.trim().is_empty(), "{}", r.stdout);
    let r = c
        .flux(&["delete", "source", "git", "charts", "--silent"])
        .await;
    c.ok("delete source git", &r, &["deleted"]);
}
