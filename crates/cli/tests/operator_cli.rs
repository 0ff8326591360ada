//! The operator commands against real state: the `keelson` binary runs against the test control
//! plane while the controller reconciles a GitRepository and two Kustomizations (one applying the
//! other) from a real `git daemon`. Each command's output and exit code are checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use keelson_api::{GitRepository, Kustomization};
use keelson_testsupport::{TestNamespace, apply, kubeconfig_path};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn keelson(args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(args)
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

#[tokio::test]
async fn operator_commands_against_a_reconciling_controller() {
    let ns = TestNamespace::create("cli-ops").await;
    let n = ns.name().to_string();
    let repo = keelson_testsupport::git::TestRepo::new();
    let work = repo.work().to_path_buf();

    // clusters/ holds the Kustomization "apps"; apps/ holds a substituted ConfigMap.
    repo.write("clusters/apps.yaml",
        &format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: {n}\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  targetNamespace: {n}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  postBuild:\n    substitute:\n      greeting: hello\n"
        ),
    );
    repo.write("apps/greeting.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  text: ${greeting} world\n  replicas: \"1\"\n",
    );
    let rev1 = repo.push("initial");

    // CRDs and the controller (in-process), then the root objects.
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(ns.client());
    for crd in keelson_api::crds() {
        apply(&crds, serde_json::to_value(&crd).unwrap()).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let storage = tempfile::tempdir().unwrap();
    let controller = tokio::spawn(keelson_controller::run(
        ns.client(),
        keelson_controller::ControllerConfig {
            storage_path: storage.path().to_path_buf(),
            storage_addr: "127.0.0.1:0".parse().unwrap(),
            storage_advertise: None,
            requeue_dependency: Duration::from_secs(1),
            namespace: Some(n.clone()),
            ..Default::default()
        },
    ));
    let repos: Api<GitRepository> = ns.api();
    apply(
        &repos,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system"},
        "spec": {"url": repo.url(), "interval": "10m", "ref": {"branch": "main"}}}),
    )
    .await;
    let kss: Api<Kustomization> = ns.api();
    apply(
        &kss,
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "root"},
        "spec": {"interval": "10m", "path": "./clusters", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}),
    )
    .await;

    // check --pre: the API server is fit; check: no controller Deployment here → exit 1.
    let pre = keelson(&["check", "--pre"]).await;
    assert_eq!(pre.code, 0, "{}{}", pre.stdout, pre.stderr);
    assert!(pre.stdout.contains("✔ Kubernetes v1."), "{}", pre.stdout);
    let full = keelson(&["check", "-n", &n]).await;
    assert_eq!(full.code, 1, "{}", full.stdout);
    assert!(
        full.stdout.contains("keelson-controller is not installed"),
        "{}",
        full.stdout
    );
    assert!(
        full.stdout
            .contains("✔ kustomizations.kustomize.toolkit.fluxcd.io/v1"),
        "{}",
        full.stdout
    );

    // reconcile: waits for the outcome and reports the revision.
    let r = keelson(&["reconcile", "source", "git", "flux-system", "-n", &n]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("revision {rev1}")),
        "{}",
        r.stderr
    );
    let r = keelson(&[
        "reconcile",
        "kustomization",
        "root",
        "-n",
        &n,
        "--with-source",
    ])
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("► reconciling GitRepository"),
        "{}",
        r.stderr
    );
    let r = keelson(&["reconcile", "ks", "apps", "-n", &n]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    // get: kubectl-like tables, YAML, exit 1 for a missing name, one table per kind for all.
    let g = keelson(&["get", "kustomizations", "-n", &n]).await;
    assert_eq!(g.code, 0, "{}", g.stderr);
    let lines: Vec<&str> = g.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"],
        "{}",
        g.stdout
    );
    for name in ["apps", "root"] {
        assert!(
            lines.iter().any(|l| l.starts_with(name)
                && l.contains(&rev1)
                && l.contains("False       True")),
            "{name} Ready at {rev1}:\n{}",
            g.stdout
        );
    }
    let g = keelson(&["get", "ks", "apps", "-n", &n, "-o", "yaml"]).await;
    assert_eq!(g.code, 0, "{}", g.stderr);
    let docs = keelson_manifest::parse_documents(&g.stdout).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["kind"], "Kustomization");
    assert_eq!(docs[0]["status"]["lastAppliedRevision"], rev1.as_str());
    let g = keelson(&["get", "ks", "missing", "-n", &n]).await;
    assert_eq!(g.code, 1, "{}{}", g.stdout, g.stderr);
    assert!(g.stderr.contains("'missing' not found"), "{}", g.stderr);
    let g = keelson(&["get", "helmreleases", "-n", &n]).await;
    assert_eq!(g.code, 0, "{}", g.stderr);
    assert!(
        g.stdout.is_empty() && g.stderr.contains("no HelmRelease objects"),
        "{}",
        g.stderr
    );
    let g = keelson(&["get", "all", "-n", &n]).await;
    assert_eq!(g.code, 0, "{}", g.stderr);
    assert!(
        g.stdout.contains("gitrepository/flux-system"),
        "{}",
        g.stdout
    );
    assert!(g.stdout.contains("kustomization/root"), "{}", g.stdout);
    assert!(
        g.stdout.contains("\n\nNAME"),
        "a blank line between tables: {}",
        g.stdout
    );

    // suspend: shown in get, reconcile refuses (exit 1); resume reconciles again (exit 0).
    let s = keelson(&["suspend", "kustomization", "apps", "-n", &n]).await;
    assert_eq!(s.code, 0, "{}", s.stderr);
    let g = keelson(&["get", "ks", "apps", "-n", &n]).await;
    assert!(
        g.stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("True        True")),
        "{}",
        g.stdout
    );
    let r = keelson(&["reconcile", "ks", "apps", "-n", &n]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is suspended"), "{}", r.stderr);
    let s = keelson(&["resume", "kustomization", "apps", "-n", &n]).await;
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert!(kss.get("apps").await.unwrap().spec.suspend != Some(true));

    // tree: root applied apps, which applied the ConfigMap.
    let t = keelson(&["tree", "kustomization", "root", "-n", &n]).await;
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert_eq!(
        t.stdout,
        format!(
            "Kustomization/{n}/root\n└── Kustomization/{n}/apps\n    └── ConfigMap/{n}/greeting\n"
        )
    );

    // events: the reconciles left events on the Kustomizations.
    let e = keelson(&["events", "-n", &n, "--for", "Kustomization/apps"]).await;
    assert_eq!(e.code, 0, "{}", e.stderr);
    assert!(e.stdout.starts_with("LAST SEEN"), "{}", e.stdout);
    assert!(e.stdout.contains("Kustomization/apps"), "{}", e.stdout);
    assert!(!e.stdout.contains("Kustomization/root"), "{}", e.stdout);

    // export: desired state only, parses back.
    let x = keelson(&["export", "kustomization", "--all", "-n", &n]).await;
    assert_eq!(x.code, 0, "{}", x.stderr);
    assert!(
        !x.stdout.contains("status:") && !x.stdout.contains("managedFields"),
        "{}",
        x.stdout
    );
    let docs = keelson_manifest::parse_documents(&x.stdout).unwrap();
    assert_eq!(docs.len(), 2);
    assert!(
        docs.iter()
            .any(|d| d["metadata"]["name"] == "root" && d["spec"]["path"] == "./clusters")
    );

    // build kustomization: substitution and owner labels as the controller applies them.
    let apps_dir = work.join("apps");
    let b = keelson(&[
        "build",
        "kustomization",
        "apps",
        "-n",
        &n,
        "--path",
        apps_dir.to_str().unwrap(),
    ])
    .await;
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(b.stdout.contains("text: hello world"), "{}", b.stdout);
    assert!(
        b.stdout.contains(&format!("namespace: {n}")),
        "{}",
        b.stdout
    );
    assert!(
        b.stdout.contains("kustomize.toolkit.fluxcd.io/name: apps"),
        "{}",
        b.stdout
    );
    assert!(
        !apps_dir.join("kustomization.yaml").exists(),
        "the local tree is left alone"
    );

    // diff: in sync → exit 0; a local edit → exit 1 with the changed line.
    let d = keelson(&[
        "diff",
        "kustomization",
        "apps",
        "-n",
        &n,
        "--path",
        apps_dir.to_str().unwrap(),
    ])
    .await;
    assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
    repo.write("apps/greeting.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  text: ${greeting} world\n  replicas: \"3\"\n",
    );
    repo.write(
        "apps/extra.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n",
    );
    let d = keelson(&[
        "diff",
        "kustomization",
        "apps",
        "-n",
        &n,
        "--path",
        apps_dir.to_str().unwrap(),
    ])
    .await;
    assert_eq!(d.code, 1, "{}{}", d.stdout, d.stderr);
    assert!(
        d.stdout
            .contains(&format!("ConfigMap {n}/greeting drifted")),
        "{}",
        d.stdout
    );
    assert!(
        d.stdout
            .lines()
            .any(|l| l.starts_with("+ ") && l.contains("replicas") && l.contains('3')),
        "{}",
        d.stdout
    );
    assert!(
        d.stdout.contains(&format!("ConfigMap {n}/extra created")),
        "{}",
        d.stdout
    );

    // uninstall --dry-run lists keelson's objects in the namespace, touching nothing.
    let u = keelson(&["uninstall", "-n", &n, "--keep-crds", "--dry-run"]).await;
    assert_eq!(u.code, 0, "{}", u.stderr);
    assert!(
        u.stdout.contains(&format!("Kustomization/{n}/root")),
        "{}",
        u.stdout
    );
    assert!(kss.get_opt("root").await.unwrap().is_some());

    controller.abort();
    let _ = controller.await;
    for name in ["root", "apps"] {
        let _ = kss
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
    }
}

/// The helm kinds in the operator commands: a HelmRelease whose chart is a folder of a
/// GitRepository (so its HelmChart is created by the controller) and a HelmRepository that
/// cannot be reached.
#[tokio::test]
async fn operator_commands_on_helm_kinds() {
    let ns = TestNamespace::create("cli-helm").await;
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
    repo.push("chart");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(ns.client());
    for crd in keelson_api::crds() {
        apply(&crds, serde_json::to_value(&crd).unwrap()).await;
    }
    let storage = tempfile::tempdir().unwrap();
    let controller = tokio::spawn(keelson_controller::run(
        ns.client(),
        keelson_controller::ControllerConfig {
            storage_path: storage.path().to_path_buf(),
            storage_addr: "127.0.0.1:0".parse().unwrap(),
            namespace: Some(n.clone()),
            ..Default::default()
        },
    ));
    let repos: Api<GitRepository> = ns.api();
    apply(
        &repos,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "repo"},
        "spec": {"url": repo.url(), "interval": "10m", "ref": {"branch": "main"}}}),
    )
    .await;
    let helmrepos: Api<keelson_api::HelmRepository> = ns.api();
    apply(
        &helmrepos,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "broken"},
        "spec": {"url": "http://127.0.0.1:1/charts", "interval": "10m"}}),
    )
    .await;
    let releases: Api<keelson_api::HelmRelease> = ns.api();
    apply(
        &releases,
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "demo"},
        "spec": {"interval": "10m",
                 "chart": {"spec": {"chart": "./charts/demo", "sourceRef": {"kind": "GitRepository", "name": "repo"}}},
                 "values": {"greeting": "hi"}}}),
    )
    .await;
    keelson_testsupport::eventually(
        "HelmRelease demo Ready",
        Duration::from_secs(120),
        || async {
            let hr = releases.get_opt("demo").await.ok().flatten()?;
            let value = serde_json::to_value(&hr).ok()?;
            value["status"]["conditions"]
                .as_array()?
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                .then_some(())
        },
    )
    .await;

    // get: the release with its chart version, the HelmChart made for it, the failing repository.
    let g = keelson(&["get", "hr", "-n", &n]).await;
    assert_eq!(g.code, 0, "{}", g.stderr);
    assert!(
        g.stdout.lines().any(|l| l.starts_with("demo")
            && l.contains("0.1.0")
            && l.contains("False       True")),
        "{}",
        g.stdout
    );
    let chart = format!("{n}-demo");
    let g = keelson(&["get", "sources", "chart", "-n", &n]).await;
    assert!(
        g.stdout
            .lines()
            .any(|l| l.starts_with(&chart) && l.contains("0.1.0")),
        "{}{}",
        g.stdout,
        g.stderr
    );
    let g = keelson(&["get", "sources", "helm", "-n", &n]).await;
    assert!(
        g.stdout
            .lines()
            .any(|l| l.starts_with("broken") && l.contains("False       False")),
        "{}{}",
        g.stdout,
        g.stderr
    );
    let g = keelson(&["get", "sources", "all", "-n", &n]).await;
    for name in [
        "gitrepository/repo",
        &format!("helmchart/{chart}"),
        "helmrepository/broken",
    ] {
        assert!(g.stdout.contains(name), "{name}:\n{}", g.stdout);
    }
    assert!(
        !g.stdout.contains("helmrelease/"),
        "sources only:\n{}",
        g.stdout
    );

    // reconcile --with-source: the HelmChart first, then the release, with its chart version.
    let r = keelson(&["reconcile", "hr", "demo", "-n", &n, "--with-source"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("► reconciling HelmChart {n}/{chart}")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "✔ HelmRelease {n}/demo reconciled: revision 0.1.0"
        )),
        "{}",
        r.stderr
    );
    // A failing source: exit 1 with its reason.
    let r = keelson(&["reconcile", "source", "helm", "broken", "-n", &n]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("✗ HelmRepository {n}/broken: ")),
        "{}",
        r.stderr
    );

    // suspend / resume a HelmRelease.
    let s = keelson(&["suspend", "hr", "demo", "-n", &n]).await;
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert_eq!(releases.get("demo").await.unwrap().spec.suspend, Some(true));
    let s = keelson(&["resume", "hr", "demo", "-n", &n]).await;
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert!(releases.get("demo").await.unwrap().spec.suspend != Some(true));

    // export: the release's desired state.
    let x = keelson(&["export", "hr", "demo", "-n", &n]).await;
    assert_eq!(x.code, 0, "{}", x.stderr);
    let docs = keelson_manifest::parse_documents(&x.stdout).unwrap();
    assert_eq!(docs.len(), 1, "{}", x.stdout);
    assert_eq!(docs[0]["kind"], "HelmRelease");
    assert_eq!(docs[0]["spec"]["values"]["greeting"], "hi");
    assert!(docs[0].get("status").is_none(), "{}", x.stdout);

    controller.abort();
    let _ = controller.await;
    let _ = releases
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await;
}
