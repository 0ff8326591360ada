//! The operator commands against real state: the `keelson` binary runs against the test control
//! plane while the controller reconciles a GitRepository and two Kustomizations (one applying the
//! other) from a real `git daemon`. Each command's output and exit code are checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use keelson_api::{GitRepository, Kustomization};
use keelson_testsupport::{TestNamespace, apply, kubeconfig_path};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Daemon {
    child: std::process::Child,
    url: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn daemon(base: &Path) -> Daemon {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = keelson_testsupport::git_daemon()
        .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Daemon {
        child,
        url: format!("git://127.0.0.1:{port}/repo.git"),
    }
}

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

fn write(root: &Path, path: &str, text: &str) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

fn push(work: &Path, message: &str) -> String {
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", message]);
    git(work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    format!("main@sha1:{}", git(work, &["rev-parse", "HEAD"]))
}

#[tokio::test]
async fn operator_commands_against_a_reconciling_controller() {
    let ns = TestNamespace::create("cli-ops").await;
    let n = ns.name().to_string();
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("repo.git");
    git(
        dir.path(),
        &["init", "--bare", "-q", bare.to_str().unwrap()],
    );
    let work: PathBuf = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    let server = daemon(dir.path());

    // clusters/ holds the Kustomization "apps"; apps/ holds a substituted ConfigMap.
    write(
        &work,
        "clusters/apps.yaml",
        &format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: {n}\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  targetNamespace: {n}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  postBuild:\n    substitute:\n      greeting: hello\n"
        ),
    );
    write(
        &work,
        "apps/greeting.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  text: ${greeting} world\n  replicas: \"1\"\n",
    );
    let rev1 = push(&work, "initial");

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
        "spec": {"url": server.url, "interval": "10m", "ref": {"branch": "main"}}}),
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
    write(
        &work,
        "apps/greeting.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  text: ${greeting} world\n  replicas: \"3\"\n",
    );
    write(
        &work,
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
