//! GitRepository and Kustomization driven by the real flux CLI.

use crate::{Cluster, column, running};

#[tokio::test]
async fn flux_drives_git_sources_and_kustomizations() {
    let c = Cluster::start("flux-ks").await;
    let n = c.name().to_string();
    let repo = keelson_testsupport::git::TestRepo::over_http();
    repo.write(
        "apps/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: hello\n",
    );
    let rev = repo.push("initial");
    let url = repo.url();

    // create (live, waits for the artifact / for Ready).
    let r = c
        .flux(&[
            "create",
            "source",
            "git",
            "repo",
            "--url",
            &url,
            "--branch",
            "main",
            "--interval",
            "10m",
        ])
        .await;
    c.ok(
        "create source git",
        &r,
        &[
            "GitRepository source reconciliation completed",
            &format!("fetched revision: {rev}"),
        ],
    );
    let r = c
        .flux(&[
            "create",
            "kustomization",
            "apps",
            "--source",
            "GitRepository/repo",
            "--path",
            "./apps",
            "--prune",
            "--interval",
            "10m",
            "--target-namespace",
            &n,
        ])
        .await;
    c.ok(
        "create kustomization",
        &r,
        &[
            "Kustomization apps is ready",
            &format!("applied revision {rev}"),
        ],
    );
    assert!(
        c.configmap("demo").await.is_some(),
        "the ConfigMap was applied"
    );

    // get: one and all namespaces.
    let r = c.flux(&["get", "sources", "git", "repo"]).await;
    // flux shortens revisions to 8 hex digits in its tables.
    c.ok("get sources git", &r, &["repo", "True", &rev[..18]]);
    let r = c.flux(&["get", "kustomizations", "--all-namespaces"]).await;
    c.ok("get ks -A", &r, &[&n, "apps", "True"]);
    let r = c.flux(&["get", "all"]).await;
    c.ok("get all", &r, &["gitrepository/repo", "kustomization/apps"]);

    // reconcile, with and without the source; a new commit arrives through --with-source.
    let r = c.flux(&["reconcile", "source", "git", "repo"]).await;
    c.ok("reconcile source git", &r, &["fetched revision"]);
    repo.write(
        "apps/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: bonjour\n",
    );
    let rev2 = repo.push("second");
    let r = c
        .flux(&["reconcile", "kustomization", "apps", "--with-source"])
        .await;
    c.ok(
        "reconcile ks --with-source",
        &r,
        &[&format!("applied revision {rev2}")],
    );
    let cm = c.configmap("demo").await.unwrap();
    assert_eq!(cm.data.unwrap()["greeting"], "bonjour");
    let r = c.flux(&["reconcile", "kustomization", "apps"]).await;
    c.ok("reconcile ks", &r, &["applied revision"]);

    // suspend / resume: resume waits for a Ready condition of the new generation.
    let r = c.flux(&["suspend", "kustomization", "apps"]).await;
    c.ok("suspend ks", &r, &["suspending kustomization apps"]);
    let r = c.flux(&["get", "kustomizations", "apps"]).await;
    c.ok("get ks (suspended)", &r, &[]);
    assert_eq!(
        column(&r.stdout, "apps", "SUSPENDED").as_deref(),
        Some("True"),
        "{}",
        r.stdout
    );
    let r = c.flux(&["resume", "kustomization", "apps"]).await;
    c.ok(
        "resume ks",
        &r,
        &["Kustomization apps reconciliation completed"],
    );
    let r = c.flux(&["get", "kustomizations", "apps"]).await;
    assert_eq!(
        column(&r.stdout, "apps", "SUSPENDED").as_deref(),
        Some("False"),
        "{}",
        r.stdout
    );
    assert_eq!(
        column(&r.stdout, "apps", "READY").as_deref(),
        Some("True"),
        "{}",
        r.stdout
    );
    let r = c.flux(&["suspend", "source", "git", "repo"]).await;
    c.ok("suspend source git", &r, &[]);
    let r = c.flux(&["resume", "source", "git", "repo"]).await;
    c.ok(
        "resume source git",
        &r,
        &["GitRepository repo reconciliation completed"],
    );

    // inspect: events, tree, trace, export, stats.
    let r = c.flux(&["events", "--for", "Kustomization/apps"]).await;
    c.ok("events --for", &r, &["Kustomization/apps"]);
    let r = c.flux(&["tree", "kustomization", "apps"]).await;
    c.ok(
        "tree ks",
        &r,
        &["Kustomization/", &format!("ConfigMap/{n}/demo")],
    );
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
        "trace",
        &r,
        &["Kustomization:", "apps", "GitRepository:", "repo"],
    );
    let theirs = c.flux(&["export", "kustomization", "apps"]).await;
    c.ok("export ks", &theirs, &["kind: Kustomization"]);
    let ours = c.keelson(&["export", "ks", "apps"]).await;
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    // One deliberate difference: flux keeps the `reconcile.fluxcd.io/requestedAt` annotation
    // its own `reconcile` left; keelson drops it (a one-off request, not desired state).
    let mut flux_docs = keelson_manifest::parse_documents(&theirs.stdout).unwrap();
    for doc in &mut flux_docs {
        let meta = doc["metadata"].as_object_mut().unwrap();
        if let Some(annotations) = meta.get_mut("annotations").and_then(|a| a.as_object_mut()) {
            annotations.remove("reconcile.fluxcd.io/requestedAt");
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    assert_eq!(
        flux_docs,
        keelson_manifest::parse_documents(&ours.stdout).unwrap(),
        "flux export and keelson export differ"
    );
    let r = c.flux(&["export", "source", "git", "repo"]).await;
    c.ok("export source git", &r, &["kind: GitRepository", &url]);
    let r = c.flux(&["stats"]).await;
    c.ok("stats", &r, &[]);
    assert_eq!(
        running(&r.stdout, "GitRepository").as_deref(),
        Some("1"),
        "{}",
        r.stdout
    );
    assert_eq!(
        running(&r.stdout, "Kustomization").as_deref(),
        Some("1"),
        "{}",
        r.stdout
    );

    // build and diff read the Kustomization from the cluster and a local tree.
    let local = repo.work().join("apps");
    let local = local.to_str().unwrap();
    let r = c
        .flux(&["build", "kustomization", "apps", "--path", local])
        .await;
    c.ok(
        "build ks",
        &r,
        &[
            "kind: ConfigMap",
            "kustomize.toolkit.fluxcd.io/name: apps",
            "greeting: bonjour",
        ],
    );
    let r = c
        .flux(&["diff", "kustomization", "apps", "--path", local])
        .await;
    c.ok("diff ks (in sync)", &r, &[]);
    repo.write(
        "apps/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: hola\n",
    );
    let r = c
        .flux(&["diff", "kustomization", "apps", "--path", local])
        .await;
    assert_eq!(
        r.code,
        1,
        "flux diff exits 1 on a difference:\n{}",
        r.text()
    );
    assert!(
        r.stdout.contains("ConfigMap/") && r.stdout.contains("drifted"),
        "{}",
        r.text()
    );

    // delete: the Kustomization's finalizer prunes what it applied.
    let r = c
        .flux(&["delete", "kustomization", "apps", "--silent"])
        .await;
    c.ok("delete ks", &r, &["deleted"]);
    c.until("the pruned ConfigMap", || async {
        c.configmap("demo").await.is_none()
    })
    .await;
    let r = c
        .flux(&["delete", "source", "git", "repo", "--silent"])
        .await;
    c.ok("delete source git", &r, &["deleted"]);
}
