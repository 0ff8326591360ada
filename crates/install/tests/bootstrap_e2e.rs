//! `bootstrap git` end to end against the loopback git servers: an empty repository over ssh
//! (with known_hosts checking) and over smart HTTP with basic auth; the sync Kustomization
//! becomes Ready at the pushed commit with the controller running in-process; a second run
//! pushes nothing and converges again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Servers, git, release_finalizers, start_controller};
use k8s_openapi::api::core::v1::Secret;
use keelson_api::Kustomization;
use keelson_install::bootstrap::{BootstrapOptions, GitTarget, bootstrap};
use keelson_install::git::GitCredentials;
use keelson_install::manifests::InstallOptions;
use keelson_testsupport::TestNamespace;
use kube::api::Api;

fn options(ns: &str, url: String, credentials: GitCredentials) -> BootstrapOptions {
    BootstrapOptions {
        target: GitTarget {
            url,
            branch: "main".into(),
            credentials,
        },
        path: "./clusters/test".into(),
        install: InstallOptions::in_namespace(ns),
        author_name: "keelson-test".into(),
        author_email: "test@example.com".into(),
        timeout: Duration::from_secs(120),
        interval: "1m0s".into(),
    }
}

/// The files of the branch, read back from the bare repository.
fn files_at(bare: &Path, path: &str) -> String {
    git(bare, &["ls-tree", "-r", "--name-only", "main", path])
}

async fn run_twice(ns: &TestNamespace, options: BootstrapOptions, bare: PathBuf) {
    let client = ns.client();
    let first = bootstrap(&client, &options, &()).await.unwrap();
    assert!(first.pushed);
    assert_eq!(
        files_at(&bare, "clusters/test"),
        "clusters/test/flux-system/gotk-components.yaml\nclusters/test/flux-system/gotk-sync.yaml\nclusters/test/flux-system/kustomization.yaml"
    );
    let kss: Api<Kustomization> = ns.api();
    let ks = kss.get("flux-system").await.unwrap();
    let inventory = ks.status.unwrap().inventory.unwrap();
    assert!(
        inventory.entries.iter().any(|e| e.id
            == format!(
                "{}_flux-system_kustomize.toolkit.fluxcd.io_Kustomization",
                ns.name()
            )),
        "the sync manages itself: {:?}",
        inventory.entries
    );

    // Again: nothing to push, still Ready at the same commit.
    let second = bootstrap(&client, &options, &()).await.unwrap();
    assert!(!second.pushed);
    assert_eq!(second.commit, first.commit);
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "1");
}

#[tokio::test]
async fn bootstrap_over_ssh_on_an_empty_repository_and_again() {
    let ns = TestNamespace::create("boot-ssh").await;
    let servers = Servers::start();
    servers.create("fleet");
    let (controller, _storage) = start_controller(&ns);
    let credentials = GitCredentials::Ssh {
        identity: std::fs::read(servers.get("SSH_IDENTITY")).unwrap(),
        known_hosts: std::fs::read(servers.get("SSH_KNOWN_HOSTS")).unwrap(),
    };
    let bare = PathBuf::from(servers.get("REPOS")).join("fleet.git");
    run_twice(
        &ns,
        options(ns.name(), servers.ssh_url("fleet"), credentials),
        bare,
    )
    .await;
    let secrets: Api<Secret> = ns.api();
    let secret = secrets.get("flux-system").await.unwrap();
    let data = secret.data.unwrap();
    assert!(data.contains_key("identity") && data.contains_key("known_hosts"));
    controller.abort();
    let _ = controller.await;
    release_finalizers(&ns).await;
}

#[tokio::test]
async fn bootstrap_over_http_basic_auth_and_a_wrong_password_fails_cleanly() {
    let ns = TestNamespace::create("boot-http").await;
    let servers = Servers::start();
    servers.create("fleet");
    let (controller, _storage) = start_controller(&ns);
    let url = servers.http_url("basic", "fleet");
    let wrong = options(
        ns.name(),
        url.clone(),
        GitCredentials::Basic {
            username: servers.get("HTTP_USER").into(),
            password: "pw-not-this-one".into(),
        },
    );
    let err = bootstrap(&ns.client(), &wrong, &()).await.unwrap_err();
    let chain = format!("{err}: {:?}", std::error::Error::source(&err));
    assert!(
        chain.contains("failed to list the remote's branches"),
        "{chain}"
    );
    assert!(
        !chain.contains("pw-not-this-one"),
        "no password in errors: {chain}"
    );
    let credentials = GitCredentials::Basic {
        username: servers.get("HTTP_USER").into(),
        password: servers.get("HTTP_PASSWORD").into(),
    };
    let bare = PathBuf::from(servers.get("REPOS")).join("fleet.git");
    run_twice(&ns, options(ns.name(), url, credentials), bare).await;
    controller.abort();
    let _ = controller.await;
    release_finalizers(&ns).await;
}
