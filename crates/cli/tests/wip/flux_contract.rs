//! Contract tests: the real `flux` CLI (built by the test environment from Flux's own module)
//! drives a keelson-reconciled namespace. Users keep their `flux` habits and scripts, so every
//! command that reads or writes the Flux API must behave against keelson as against Flux's
//! controllers: exit code 0 and the lines flux prints on success. A command that waits (create,
//! reconcile, resume) only succeeds when keelson's status says what flux and kstatus read —
//! `observedGeneration` on the status and on every condition, `lastHandledReconcileAt`, the
//! artifact revision — so this is where a status bug shows.
//!
//! Commands that need Flux's own controller Deployments (`flux check`, `flux logs`) are not run:
//! keelson's `check` and `logs` serve that need and have their own tests (operator_cli.rs,
//! logs_cli.rs). `create … --export` text is compared with keelson's in create_export.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use keelson_testsupport::{TestNamespace, apply, kubeconfig_path};
use kube::api::Api;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `flux ARGS -n NS` against the test control plane (bounded by its own `--timeout`).
async fn flux(ns: &str, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(keelson_testsupport::tool("flux"))
        .args(args)
        .args(["--namespace", ns, "--timeout", "90s"])
        .arg("--kubeconfig")
        .arg(kubeconfig_path())
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn keelson(ns: &str, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(args)
        .args(["-n", ns])
        .env("KUBECONFIG", kubeconfig_path())
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts the command succeeded and printed every one of `lines` (substrings).
fn ok(what: &str, run: &Run, lines: &[&str]) {
    assert_eq!(run.code, 0, "flux {what} failed:\n{}", run.text());
    for line in lines {
        assert!(
            run.text().contains(line),
            "flux {what}: {line:?} missing in:\n{}",
            run.text()
        );
    }
}

/// The namespace's CRDs and an in-process controller watching only it.
async fn controller(ns: &TestNamespace) -> (tokio::task::JoinHandle<()>, tempfile::TempDir) {
    let crds: Api<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    > = Api::all(ns.client());
    for crd in keelson_api::crds() {
        apply(&crds, serde_json::to_value(&crd).unwrap()).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let storage = tempfile::tempdir().unwrap();
    let handle = tokio::spawn({
        let client = ns.client();
        let config = keelson_controller::ControllerConfig {
            storage_path: storage.path().to_path_buf(),
            storage_addr: "127.0.0.1:0".parse().unwrap(),
            requeue_dependency: Duration::from_secs(1),
            namespace: Some(ns.name().to_string()),
            ..Default::default()
        };
        async move {
            let _ = keelson_controller::run(client, config).await;
        }
    });
    (handle, storage)
}

/// `kubectl get` of one object as JSON, through the namespace's client.
async fn configmap(ns: &TestNamespace, name: &str) -> Option<k8s_openapi::api::core::v1::ConfigMap> {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> = ns.api();
    api.get_opt(name).await.unwrap()
}

#[tokio::test]
async fn flux_drives_git_sources_and_kustomizations() {
    let ns = TestNamespace::create("flux-ks").await;
    let n = ns.name().to_string();
    let repo = keelson_testsupport::git::TestRepo::new();
    repo.write(
        "apps/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: hello\n",
    );
    let rev = repo.push("initial");
    let (controller, _storage) = controller(&ns).await;
    let url = repo.url();

    // create (live, waits for the artifact / for Ready).
    let r = flux(
        &n,
        &["create", "source", "git", "repo", "--url", &url, "--branch", "main", "--interval", "10m"],
    )
    .await;
    ok(
        "create source git",
        &r,
        &["GitRepository source reconciliation completed", &format!("fetched revision: main@sha1:{rev}")],
    );
    let r = flux(
        &n,
        &[
            "create", "kustomization", "apps", "--source", "GitRepository/repo", "--path", "./apps",
            "--prune", "--interval", "10m", "--target-namespace", &n,
        ],
    )
    .await;
    ok(
        "create kustomization",
        &r,
        &["Kustomization apps is ready", &format!("applied revision main@sha1:{rev}")],
    );
    assert!(configmap(&ns, "demo").await.is_some(), "the ConfigMap was applied");

    // get: one and all namespaces.
    let r = flux(&n, &["get", "sources", "git", "repo"]).await;
    ok("get sources git", &r, &["repo", "True", &format!("main@sha1:{rev}")]);
    let r = flux(&n, &["get", "kustomizations", "--all-namespaces"]).await;
    ok("get ks -A", &r, &[&n, "apps", "True"]);
    let r = flux(&n, &["get", "all"]).await;
    ok("get all", &r, &["gitrepository/repo", "kustomization/apps"]);

    // reconcile, with and without the source; a new commit arrives through --with-source.
    let r = flux(&n, &["reconcile", "source", "git", "repo"]).await;
    ok("reconcile source git", &r, &["fetched revision"]);
    repo.write(
        "apps/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: bonjour\n",
    );
    let rev2 = repo.push("second");
    let r = flux(&n, &["reconcile", "kustomization", "apps", "--with-source"]).await;
    ok(
        "reconcile ks --with-source",
        &r,
        &[&format!("applied revision main@sha1:{rev2}")],
    );
    let cm = configmap(&ns, "demo").await.unwrap();
    assert_eq!(cm.data.unwrap()["greeting"], "bonjour");
    let r = flux(&n, &["reconcile", "kustomization", "apps"]).await;
    ok("reconcile ks", &r, &["applied revision"]);

    // suspend / resume: resume waits for a Ready condition of the new generation.
    let r = flux(&n, &["suspend", "kustomization", "apps"]).await;
    ok("suspend ks", &r, &["suspending kustomization apps"]);
    let r = flux(&n, &["get", "kustomizations", "apps"]).await;
    ok("get ks (suspended)", &r, &["True"]);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("apps") && l.contains("True")),
        "{}",
        r.stdout
    );
    let r = flux(&n, &["resume", "kustomization", "apps"]).await;
    ok("resume ks", &r, &["Kustomization apps reconciliation completed"]);
    let r = flux(&n, &["suspend", "source", "git", "repo"]).await;
    ok("suspend source git", &r, &[]);
    let r = flux(&n, &["resume", "source", "git", "repo"]).await;
    ok("resume source git", &r, &["GitRepository repo reconciliation completed"]);

    // inspect: events, tree, trace, export, stats.
    let r = flux(&n, &["events", "--for", "Kustomization/apps"]).await;
    ok("events --for", &r, &["Kustomization/apps"]);
    let r = flux(&n, &["tree", "kustomization", "apps"]).await;
    ok("tree ks", &r, &["Kustomization/", &format!("ConfigMap/{n}/demo")]);
    let r = flux(&n, &["trace", "demo", "--kind", "ConfigMap", "--api-version", "v1"]).await;
    ok("trace", &r, &["Kustomization:", "apps", "GitRepository:", "repo"]);
    let theirs = flux(&n, &["export", "kustomization", "apps"]).await;
    ok("export ks", &theirs, &["kind: Kustomization"]);
    let ours = keelson(&n, &["export", "ks", "apps"]).await;
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    assert_eq!(
        keelson_manifest::parse_documents(&theirs.stdout).unwrap(),
        keelson_manifest::parse_documents(&ours.stdout).unwrap(),
        "flux export and keelson export differ"
    );
    let r = flux(&n, &["export", "source", "git", "repo"]).await;
    ok("export source git", &r, &["kind: GitRepository", &url]);
    let r = flux(&n, &["stats"]).await;
    ok("stats", &r, &["Kustomizations", "GitRepositories"]);

    // delete: the Kustomization's finalizer prunes what it applied.
    let r = flux(&n, &["delete", "kustomization", "apps", "--silent"]).await;
    ok("delete ks", &r, &["deleted"]);
    keelson_testsupport::eventually("the pruned ConfigMap", Duration::from_secs(60), || async {
        configmap(&ns, "demo").await.is_none().then_some(())
    })
    .await;
    let r = flux(&n, &["delete", "source", "git", "repo", "--silent"]).await;
    ok("delete source git", &r, &["deleted"]);
    controller.abort();
}

#[tokio::test]
async fn flux_drives_helm_releases() {
    let ns = TestNamespace::create("flux-hr").await;
    let n = ns.name().to_string();
    let repo = keelson_testsupport::git::TestRepo::new();
    repo.write(
        "charts/demo/Chart.yaml",
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    );
    repo.write(
        "charts/demo/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
    );
    repo.write("charts/demo/values.yaml", "greeting: hello\n");
    repo.push("chart");
    let (controller, _storage) = controller(&ns).await;
    let url = repo.url();
    let r = flux(
        &n,
        &["create", "source", "git", "charts", "--url", &url, "--branch", "main", "--interval", "10m"],
    )
    .await;
    ok("create source git", &r, &["fetched revision"]);
    let r = flux(
        &n,
        &[
            "create", "helmrelease", "demo", "--source", "GitRepository/charts", "--chart",
            "./charts/demo", "--interval", "10m",
        ],
    )
    .await;
    ok("create helmrelease", &r, &["HelmRelease demo is ready", "applied revision 0.1.0"]);
    assert!(configmap(&ns, "demo").await.is_some());

    let r = flux(&n, &["get", "helmreleases"]).await;
    ok("get hr", &r, &["demo", "True", "0.1.0"]);
    let r = flux(&n, &["get", "helmreleases", "--all-namespaces"]).await;
    ok("get hr -A", &r, &[&n, "demo"]);
    let r = flux(&n, &["get", "sources", "chart"]).await;
    ok("get sources chart", &r, &[&format!("{n}-demo"), "True"]);

    let r = flux(&n, &["reconcile", "helmrelease", "demo"]).await;
    ok("reconcile hr", &r, &["applied revision 0.1.0"]);
    let r = flux(&n, &["reconcile", "helmrelease", "demo", "--with-source"]).await;
    ok("reconcile hr --with-source", &r, &["applied revision 0.1.0"]);

    // The bug this suite was made for: after a resume (a new generation that needs no upgrade)
    // flux waits for a Ready condition of that generation.
    let r = flux(&n, &["suspend", "helmrelease", "demo"]).await;
    ok("suspend hr", &r, &["suspending helmrelease demo"]);
    let r = flux(&n, &["resume", "helmrelease", "demo"]).await;
    ok("resume hr", &r, &["HelmRelease demo reconciliation completed"]);
    let releases: Api<keelson_api::HelmRelease> = ns.api();
    let hr = serde_json::to_value(releases.get("demo").await.unwrap()).unwrap();
    let generation = hr["metadata"]["generation"].clone();
    for c in hr["status"]["conditions"].as_array().unwrap() {
        assert_eq!(c["observedGeneration"], generation, "condition {c} is behind");
    }

    let r = flux(&n, &["events", "--for", "HelmRelease/demo"]).await;
    ok("events --for hr", &r, &["HelmRelease/demo"]);
    let r = flux(&n, &["export", "helmrelease", "demo"]).await;
    ok("export hr", &r, &["kind: HelmRelease", "chart: ./charts/demo"]);
    let r = flux(&n, &["stats"]).await;
    ok("stats", &r, &["HelmReleases", "HelmCharts"]);
    let r = flux(&n, &["delete", "helmrelease", "demo", "--silent"]).await;
    ok("delete hr", &r, &["deleted"]);
    keelson_testsupport::eventually("the uninstalled ConfigMap", Duration::from_secs(60), || async {
        configmap(&ns, "demo").await.is_none().then_some(())
    })
    .await;
    controller.abort();
}
