//! `keelson create source git` and `keelson get sources git`.
//!
//! `--export` is compared with the real `flux create source git --export` (the flux binary from
//! `testenv/build.sh`) for a table of flag combinations, as objects and as text. The cluster
//! test creates a GitRepository through the CLI against the shared control plane with the
//! controller running in-process and a `git daemon` on loopback, then lists it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use keelson_testsupport::{TestNamespace, apply};
use kube::api::Api;
use serde_json::Value;

fn keelson(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn objects(yaml: &str) -> Vec<Value> {
    keelson_manifest::parse_documents(yaml).unwrap()
}

/// Flag sets for `create source git NAME …`; each is run through flux and keelson.
const EXPORT_CASES: &[&[&str]] = &[
    &[
        "podinfo",
        "--url=https://github.com/stefanprodan/podinfo",
        "--branch=master",
    ],
    &[
        "podinfo",
        "--url=https://github.com/stefanprodan/podinfo",
        "--tag=6.0.0",
        "--interval=10m",
        "--namespace=apps",
    ],
    &[
        "podinfo",
        "--url=https://github.com/stefanprodan/podinfo",
        "--tag-semver=>=1.0.0 <2.0.0",
        "--secret-ref=creds",
        "--interval=90s",
    ],
    &[
        "podinfo",
        "--url=http://example.com/org/repo.git",
        "--commit=0123456789abcdef0123456789abcdef01234567",
        "--branch=main",
        "--ignore-paths=/*,!/deploy",
        "--fetch-timeout=2m",
        "--label=team=web",
        "--label=tier=one",
        "-n",
        "team-a",
    ],
    &[
        "infra",
        "--url=ssh://git@example.com/org/infra",
        "--ref-name=refs/pull/1/head",
        "--secret-ref=ssh-key",
        "--recurse-submodules",
        "--interval=1h30m",
    ],
    // Precedence when several references are given: semver over tag over branch.
    &[
        "many",
        "--url=https://example.com/r",
        "--branch=main",
        "--tag=v1",
        "--tag-semver=~1.2",
    ],
    &[
        "many",
        "--url=https://example.com/r",
        "--branch=main",
        "--tag=v1",
    ],
    &[
        "fast",
        "--url=https://example.com/r",
        "--branch=main",
        "--interval=1500ms",
        "--ignore-paths=*.md",
        "--ignore-paths=docs/",
    ],
];

/// Strings a YAML 1.1 reader takes for numbers, dates or booleans: go-yaml double-quotes them.
const LOOK_ALIKE_TAGS: &[&str] = &[
    "1.0",
    "2001-12-14",
    "12:30",
    ".inf",
    "0x1F",
    "017",
    "1_000",
    "yes",
    "ON",
    "~",
    "null",
    "1e3",
    "v1.0",
    "1.2.3",
    "=",
    "inf",
];

/// Flag sets both tools refuse.
const REFUSED: &[&[&str]] = &[
    &["noref", "--url=https://example.com/r"],
    &["scp", "--url=git@example.com:org/repo", "--branch=main"],
    &["ftp", "--url=ftp://example.com/r", "--branch=main"],
    &["nourl", "--branch=main"],
    &[
        "label",
        "--url=https://example.com/r",
        "--branch=main",
        "--label=novalue",
    ],
];

#[test]
fn export_matches_flux() {
    let flux = keelson_testsupport::tool("flux");
    let home = tempfile::tempdir().unwrap();
    for case in EXPORT_CASES {
        let mut args = vec!["create", "source", "git"];
        args.extend_from_slice(case);
        args.push("--export");
        let reference = Command::new(&flux)
            .args(&args)
            .env("HOME", home.path())
            .env_remove("KUBECONFIG")
            .output()
            .unwrap();
        assert!(
            reference.status.success(),
            "flux {args:?}: {}",
            text(&reference.stderr)
        );
        let ours = keelson(&args);
        assert!(
            ours.status.success(),
            "keelson {args:?}: {}",
            text(&ours.stderr)
        );
        let (want, got) = (text(&reference.stdout), text(&ours.stdout));
        assert_eq!(objects(&got), objects(&want), "{args:?}");
        assert_eq!(got, want, "{args:?}: same objects, different text");
    }
    for tag in LOOK_ALIKE_TAGS {
        let tag = format!("--tag={tag}");
        let args = [
            "create",
            "source",
            "git",
            "quoted",
            "--url=https://example.com/r",
            tag.as_str(),
            "--export",
        ];
        let reference = Command::new(&flux)
            .args(args)
            .env("HOME", home.path())
            .env_remove("KUBECONFIG")
            .output()
            .unwrap();
        assert!(
            reference.status.success(),
            "flux {args:?}: {}",
            text(&reference.stderr)
        );
        let ours = keelson(&args);
        assert_eq!(text(&ours.stdout), text(&reference.stdout), "{args:?}");
    }
    for case in REFUSED {
        let mut args = vec!["create", "source", "git"];
        args.extend_from_slice(case);
        args.push("--export");
        let reference = Command::new(&flux)
            .args(&args)
            .env("HOME", home.path())
            .env_remove("KUBECONFIG")
            .output()
            .unwrap();
        assert!(!reference.status.success(), "flux accepted {args:?}");
        let ours = keelson(&args);
        assert!(!ours.status.success(), "keelson accepted {args:?}");
        assert!(ours.stdout.is_empty());
    }
}

#[test]
fn git_protocol_urls_are_a_keelson_extension() {
    let out = keelson(&[
        "create",
        "source",
        "git",
        "daemon",
        "--url=git://127.0.0.1/r.git",
        "--branch=main",
        "--export",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("url: git://127.0.0.1/r.git"));
}

// ---------------------------------------------------------------------------------------------
// Against the control plane.

/// The `git-daemon` program itself: `git daemon` runs it as a child that outlives a killed
/// `git`, so stopping the server must target this process.
fn git_daemon() -> std::path::PathBuf {
    let out = Command::new("git").arg("--exec-path").output().unwrap();
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("git-daemon")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@keelson.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A repository with one commit served by `git daemon`: (daemon, URL, commit).
fn served_repo(dir: &Path) -> (Daemon, String, String) {
    let bare = dir.join("repo.git");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(dir, &["init", "-q", "--bare", bare.to_str().unwrap()]);
    git(&work, &["init", "-q"]);
    std::fs::write(work.join("app.yaml"), "kind: ConfigMap\n").unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    git(
        &work,
        &["push", "-q", bare.to_str().unwrap(), "HEAD:refs/heads/main"],
    );
    let head = git(&work, &["rev-parse", "HEAD"]);
    let port = free_port();
    let child = Command::new(git_daemon())
        .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", dir.display()))
        .arg(dir)
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
    (
        Daemon(child),
        format!("git://127.0.0.1:{port}/repo.git"),
        head,
    )
}

#[tokio::test]
async fn create_waits_for_ready_and_get_lists() {
    let ns = TestNamespace::create("cli-source-git").await;
    let kubeconfig = keelson_testsupport::kubeconfig_path();
    let kubeconfig = kubeconfig.to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, url, head) = served_repo(dir.path());

    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(ns.client());
    for crd in keelson_api::crds() {
        apply(&crds, serde_json::to_value(&crd).unwrap()).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let storage = tempfile::tempdir().unwrap();
    let config = keelson_controller::ControllerConfig {
        storage_path: storage.path().to_path_buf(),
        storage_addr: "127.0.0.1:0".parse().unwrap(),
        storage_advertise: None,
        requeue_dependency: Duration::from_secs(1),
        namespace: Some(ns.name().to_string()),
        ..Default::default()
    };
    let _controller = tokio::spawn(keelson_controller::run(ns.client(), config));

    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            keelson(&args)
        })
    };
    let base = |extra: &[&str]| -> Vec<String> {
        extra
            .iter()
            .map(|s| (*s).to_string())
            .chain([
                "--kubeconfig".into(),
                kubeconfig.clone(),
                "-n".into(),
                ns.name().into(),
            ])
            .collect()
    };

    // create: applies, waits for Ready, reports the revision.
    let url_flag = format!("--url={url}");
    let out = run(base(&[
        "create",
        "source",
        "git",
        "app",
        &url_flag,
        "--branch=main",
        "--interval=1m",
    ]))
    .await
    .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("GitRepository source created"), "{stderr}");
    assert!(
        stderr.contains(&format!("fetched revision: main@sha1:{head}")),
        "{stderr}"
    );
    // Again: an update, Ready at once.
    let out = run(base(&[
        "create",
        "source",
        "git",
        "app",
        &url_flag,
        "--branch=main",
        "--interval=1m",
    ]))
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("GitRepository source updated"));
    // A branch that does not exist: the controller's failure, exit 1.
    let out = run(base(&[
        "create",
        "source",
        "git",
        "broken",
        &url_flag,
        "--branch=nope",
        "--timeout=30s",
    ]))
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("branch \"nope\" not found"),
        "{}",
        text(&out.stderr)
    );

    // get: the table.
    let out = run(base(&["get", "sources", "git"])).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("NAME "), "{table}");
    for header in ["REVISION", "SUSPENDED", "READY", "MESSAGE"] {
        assert!(lines[0].contains(header), "{table}");
    }
    let app: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        &app[..4],
        ["app", &format!("main@sha1:{head}"), "False", "True"],
        "{table}"
    );
    let broken: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(&broken[..3], ["broken", "False", "False"], "{table}");

    // One by name, as YAML and JSON; a missing name exits 1.
    let out = run(base(&["get", "sources", "git", "app", "-o", "yaml"]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let yaml = objects(&text(&out.stdout));
    assert_eq!(yaml.len(), 1);
    assert_eq!(yaml[0]["kind"], "GitRepository");
    assert_eq!(
        yaml[0]["status"]["artifact"]["revision"],
        format!("main@sha1:{head}")
    );
    let out = run(base(&["get", "sources", "git", "-o", "json"]))
        .await
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let out = run(base(&["get", "sources", "git", "missing"]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());

    // All namespaces: a NAMESPACE column; our row is there.
    let out = run(base(&["get", "sources", "git", "-A"])).await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    assert!(table.starts_with("NAMESPACE "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("{} ", ns.name())) && l.contains(" app ")),
        "{table}"
    );

    // An empty namespace: a note on stderr, exit 0.
    let empty = TestNamespace::create("cli-source-git-empty").await;
    let out = run(vec![
        "get".into(),
        "sources".into(),
        "git".into(),
        "--kubeconfig".into(),
        kubeconfig.clone(),
        "-n".into(),
        empty.name().into(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("no GitRepository objects found"));

    // Usage errors exit 2.
    let out = keelson(&["get", "sources", "git", "-o", "xml"]);
    assert_eq!(out.status.code(), Some(2));
}
