//! `keelson logs` against a real controller process: `keelson controller --log-encoding json`
//! runs outside the cluster (as kwok's pods never run), its stderr goes to a file, and the
//! command filters that file by kind, name, namespace, level and age, tails it and follows it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use keelson_api::{GitRepository, Kustomization};
use keelson_testsupport::git::TestRepo;
use keelson_testsupport::{TestNamespace, apply, eventually, kubeconfig_path};
use kube::api::Api;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| !l.is_empty()).collect()
    }
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

/// The Ready condition's status, once the object's generation was observed.
fn ready<K: serde::Serialize>(object: &K) -> Option<String> {
    let value = serde_json::to_value(object).ok()?;
    value["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .map(str::to_string)
}

/// Kills the controller process when the test ends, also on a failed assert.
struct Controller(std::process::Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn logs_filter_tail_and_follow_a_controllers_json_log() {
    let ns = TestNamespace::create("cli-logs").await;
    let n = ns.name().to_string();
    let repo = TestRepo::new();
    repo.write(
        "deploy/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: logged\ndata:\n  a: \"1\"\n",
    );
    repo.push("initial");

    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(ns.client());
    for crd in keelson_api::crds() {
        apply(&crds, serde_json::to_value(&crd).unwrap()).await;
    }
    let storage = tempfile::tempdir().unwrap();
    let log_path = storage.path().join("controller.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let _controller = Controller(
        std::process::Command::new(env!("CARGO_BIN_EXE_keelson"))
            .args(["controller", "--log-encoding", "json", "--namespace", &n])
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .arg("--storage-path")
            .arg(storage.path().join("artifacts"))
            .args(["--storage-addr", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap(),
    );
    let log = log_path.to_str().unwrap().to_string();

    let repos: Api<GitRepository> = ns.api();
    apply(
        &repos,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "repo"},
        "spec": {"url": repo.url(), "interval": "10m", "ref": {"branch": "main"}}}),
    )
    .await;
    // The source first, so that the good Kustomization never logs an error.
    eventually(
        "GitRepository repo Ready",
        Duration::from_secs(60),
        || async {
            let repo = repos.get_opt("repo").await.ok().flatten()?;
            (ready(&repo).as_deref() == Some("True")).then_some(())
        },
    )
    .await;
    let kss: Api<Kustomization> = ns.api();
    for (name, path) in [("good", "./deploy"), ("bad", "./missing")] {
        apply(
            &kss,
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name},
            "spec": {"interval": "10m", "path": path, "prune": true, "targetNamespace": n,
                     "sourceRef": {"kind": "GitRepository", "name": "repo"}}}),
        )
        .await;
    }
    for (name, want) in [("good", "True"), ("bad", "False")] {
        eventually(
            &format!("Kustomization {name} Ready={want}"),
            Duration::from_secs(90),
            || async {
                let ks = kss.get_opt(name).await.ok().flatten()?;
                (ready(&ks).as_deref() == Some(want)).then_some(())
            },
        )
        .await;
    }

    // The controller's log is JSON lines, every one of them.
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(!text.is_empty(), "the controller logged nothing");
    for line in text.lines() {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            parsed["level"].is_string() && parsed["ts"].is_string() && parsed["msg"].is_string(),
            "{line}"
        );
    }

    // One object's lines: kind by short name, its name and namespace.
    let good = keelson(&[
        "logs",
        "--log-file",
        &log,
        "--kind",
        "ks",
        "--name",
        "good",
        "-n",
        &n,
    ])
    .await;
    assert_eq!(good.code, 0, "{}", good.stderr);
    let head = format!("Kustomization/good.{n} - ");
    assert!(!good.lines().is_empty(), "no lines about good:\n{text}");
    assert!(
        good.lines().iter().all(|l| l.contains(&head)),
        "{}",
        good.stdout
    );
    assert!(
        good.lines()
            .iter()
            .any(|l| l.contains("reconciliation finished in")),
        "{}",
        good.stdout
    );

    // Errors only: the failing Kustomization's failure, named, and nothing at info.
    let errors = keelson(&["logs", "--log-file", &log, "--level", "error", "-n", &n]).await;
    assert_eq!(errors.code, 0, "{}", errors.stderr);
    assert!(
        errors
            .lines()
            .iter()
            .any(|l| l.contains(&format!("Kustomization/bad.{n} - ")) && l.contains("missing")),
        "{}",
        errors.stdout
    );
    assert!(
        errors.lines().iter().all(|l| l.contains(" error ")),
        "{}",
        errors.stdout
    );
    assert!(
        !errors.stdout.contains("Kustomization/good."),
        "{}",
        errors.stdout
    );

    // Another namespace has no lines; the tail is the last matching line.
    let elsewhere = keelson(&["logs", "--log-file", &log, "-n", "no-such-namespace"]).await;
    assert_eq!(
        (elsewhere.code, elsewhere.lines().len()),
        (0, 0),
        "{}",
        elsewhere.stdout
    );
    let tail = keelson(&[
        "logs",
        "--log-file",
        &log,
        "--kind",
        "Kustomization",
        "--name",
        "good",
        "--tail",
        "1",
    ])
    .await;
    assert_eq!(tail.lines(), vec![*good.lines().last().unwrap()]);

    // -o json: the original lines of the kind asked for.
    let raw = keelson(&[
        "logs",
        "--log-file",
        &log,
        "--kind",
        "gitrepositories",
        "-o",
        "json",
    ])
    .await;
    assert!(!raw.lines().is_empty());
    for line in raw.lines() {
        let parsed: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (parsed["controllerKind"].as_str(), parsed["name"].as_str()),
            (Some("GitRepository"), Some("repo")),
            "{line}"
        );
        assert!(text.contains(line));
    }

    // --since: nothing is newer than a moment ago (every object waits 10m), all is newer than 1h.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let recent = keelson(&["logs", "--log-file", &log, "-n", &n, "--since", "2s"]).await;
    assert_eq!(recent.lines().len(), 0, "{}", recent.stdout);
    let hour = keelson(&["logs", "--log-file", &log, "-n", &n, "--since", "1h"]).await;
    let all = keelson(&["logs", "--log-file", &log, "-n", &n]).await;
    assert_eq!(hour.lines(), all.lines());

    // -f: a new commit fetched on request shows up in the followed output.
    let mut follow = tokio::process::Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args([
            "logs",
            "-f",
            "--log-file",
            &log,
            "--kind",
            "GitRepository",
            "-n",
            &n,
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(follow.stdout.take().unwrap()).lines();
    repo.write(
        "deploy/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: logged\ndata:\n  a: \"2\"\n",
    );
    let revision = repo.push("second");
    let requested = keelson(&["reconcile", "source", "git", "repo", "-n", &n]).await;
    assert_eq!(
        requested.code, 0,
        "{}{}",
        requested.stdout, requested.stderr
    );
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(&revision) {
                return line;
            }
        }
        panic!("keelson logs -f ended");
    })
    .await
    .unwrap_or_else(|_| panic!("keelson logs -f never showed {revision}"));
    assert!(
        seen.contains(&format!("GitRepository/repo.{n} - ")),
        "{seen}"
    );
    follow.kill().await.unwrap();

    // Without --log-file: the controller pods, and a clear error when there are none.
    let pods = keelson(&["logs", "--keelson-namespace", &n]).await;
    assert_eq!(pods.code, 1, "{}", pods.stdout);
    assert!(
        pods.stderr.contains("no keelson controller pod") && pods.stderr.contains("--log-file"),
        "{}",
        pods.stderr
    );
}
