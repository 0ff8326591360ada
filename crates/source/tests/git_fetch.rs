//! Fetch against real git servers on loopback: git daemon, smart HTTP (basic auth, bearer
//! token), sshd (key auth, known_hosts).
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Repo, Servers, branch, files, git, ssh_auth};
use keelson_source::fetch::{REASON_AUTHENTICATION_FAILED, REASON_GIT_OPERATION_FAILED};
use keelson_source::{BasicAuth, FetchError, FetchOptions, GitAuth, GitReference, fetch, resolve};

/// A small repository on `main` with a subdirectory and an executable file.
fn sample(servers: &Servers, name: &str) -> (Repo, String) {
    let repo = Repo::new(servers, name);
    repo.write("README.md", "hello\n");
    repo.write("deploy/app.yaml", "kind: ConfigMap\n");
    repo.write("bin/run.sh", "#!/bin/sh\necho run\n");
    std::fs::set_permissions(
        repo.work.path().join("bin/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    repo.commit("first");
    repo.write("deploy/app.yaml", "kind: ConfigMap\nmetadata: {name: x}\n");
    let head = repo.commit("second");
    repo.push(&["main"]);
    (repo, head)
}

fn assert_tree(dir: &std::path::Path) {
    assert_eq!(files(dir), ["README.md", "bin/run.sh", "deploy/app.yaml"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("deploy/app.yaml")).unwrap(),
        "kind: ConfigMap\nmetadata: {name: x}\n"
    );
    let mode = std::fs::metadata(dir.join("bin/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "executable bit lost: {mode:o}");
}

#[tokio::test]
async fn git_daemon_branch() {
    let servers = Servers::start();
    let (_repo, head) = sample(&servers, "daemon");
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("tree");
    let checkout = fetch(&branch(&servers.daemon_url("daemon"), "main"), &dest)
        .await
        .unwrap();
    assert_eq!(checkout.resolved.commit, head);
    assert_eq!(checkout.resolved.revision, format!("main@sha1:{head}"));
    assert_eq!(
        checkout.resolved.reference.as_deref(),
        Some("refs/heads/main")
    );
    assert_tree(&dest);
    // resolve() agrees without downloading.
    let resolved = resolve(&branch(&servers.daemon_url("daemon"), "main"))
        .await
        .unwrap();
    assert_eq!(resolved, checkout.resolved);
}

#[tokio::test]
async fn missing_branch_is_ref_not_found() {
    let servers = Servers::start();
    sample(&servers, "nobranch");
    let out = tempfile::tempdir().unwrap();
    let err = fetch(
        &branch(&servers.daemon_url("nobranch"), "nope"),
        &out.path().join("t"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::RefNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("branch \"nope\" not found"),
        "{err}"
    );
    assert_eq!(err.reason(), REASON_GIT_OPERATION_FAILED);
}

#[tokio::test]
async fn http_basic_auth() {
    let servers = Servers::start();
    let (_repo, head) = sample(&servers, "basic");
    let url = servers.http_url("basic", "basic");
    let password = servers.get("HTTP_PASSWORD").to_string();
    let good = GitAuth {
        basic: Some(BasicAuth {
            username: servers.get("HTTP_USER").to_string(),
            password: password.clone(),
        }),
        ..GitAuth::default()
    };
    let out = tempfile::tempdir().unwrap();
    let mut options = branch(&url, "main");
    options.auth = good;
    let checkout = fetch(&options, &out.path().join("ok")).await.unwrap();
    assert_eq!(checkout.resolved.commit, head);
    assert_tree(&checkout.path);

    // Wrong password: a clear authentication error that does not show the password.
    let wrong = "wrong-secret-value-123";
    let mut options = branch(&url, "main");
    options.auth.basic = Some(BasicAuth {
        username: servers.get("HTTP_USER").to_string(),
        password: wrong.to_string(),
    });
    let err = fetch(&options, &out.path().join("bad")).await.unwrap_err();
    assert!(matches!(err, FetchError::Authentication { .. }), "{err:?}");
    assert_eq!(err.reason(), REASON_AUTHENTICATION_FAILED);
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(
            !shown.contains(wrong) && !shown.contains(&password),
            "{shown}"
        );
    }

    // No credentials at all.
    let err = fetch(&branch(&url, "main"), &out.path().join("none"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Authentication { .. }), "{err:?}");

    // Credentials in the URL are used but never shown.
    let in_url = format!(
        "http://{}:{}@127.0.0.1:{}/basic/basic.git",
        servers.get("HTTP_USER"),
        password,
        servers.get("HTTP_PORT")
    );
    let checkout = fetch(&branch(&in_url, "main"), &out.path().join("url"))
        .await
        .unwrap();
    assert_eq!(checkout.resolved.commit, head);
    let err = fetch(&branch(&in_url, "missing"), &out.path().join("url2"))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(&password), "{err}");
    assert!(!format!("{err:?}").contains(&password), "{err:?}");
}

#[tokio::test]
async fn http_bearer_token() {
    let servers = Servers::start();
    let (_repo, head) = sample(&servers, "bearer");
    let url = servers.http_url("bearer", "bearer");
    let token = servers.get("HTTP_TOKEN").to_string();
    let out = tempfile::tempdir().unwrap();
    let mut options = branch(&url, "main");
    options.auth.bearer_token = Some(token.clone());
    let checkout = fetch(&options, &out.path().join("ok")).await.unwrap();
    assert_eq!(checkout.resolved.revision, format!("main@sha1:{head}"));
    assert_tree(&checkout.path);

    let wrong = "tok-not-the-right-one-456";
    options.auth.bearer_token = Some(wrong.to_string());
    let err = fetch(&options, &out.path().join("bad")).await.unwrap_err();
    assert!(matches!(err, FetchError::Authentication { .. }), "{err:?}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(wrong) && !shown.contains(&token), "{shown}");
    }
    // Bearer and basic are not interchangeable on this server.
    let err = resolve(&options).await.unwrap_err();
    assert!(matches!(err, FetchError::Authentication { .. }), "{err:?}");
}

#[tokio::test]
async fn https_with_custom_ca() {
    let servers = Servers::start();
    let (_repo, head) = sample(&servers, "tls");
    let url = servers.https_url("basic", "tls");
    let password = servers.get("HTTP_PASSWORD").to_string();
    let out = tempfile::tempdir().unwrap();
    let mut options = branch(&url, "main");
    options.auth.basic = Some(BasicAuth {
        username: servers.get("HTTP_USER").to_string(),
        password: password.clone(),
    });
    // Without the CA the server's certificate is not trusted.
    let err = fetch(&options, &out.path().join("noca")).await.unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Connect { .. } | FetchError::Transfer { .. }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains(&password), "{err}");
    // With ca.crt it is.
    options.auth.ca_pem = Some(std::fs::read(servers.get("HTTPS_CA")).unwrap());
    let checkout = fetch(&options, &out.path().join("ok")).await.unwrap();
    assert_eq!(checkout.resolved.revision, format!("main@sha1:{head}"));
    assert_tree(&checkout.path);
    // A CA that is not PEM is a clear error.
    options.auth.ca_pem = Some(b"not a certificate".to_vec());
    let err = fetch(&options, &out.path().join("badca"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ca.crt"), "{err}");
}

#[tokio::test]
async fn ssh_with_known_hosts() {
    let servers = Servers::start();
    let (_repo, head) = sample(&servers, "ssh");
    let url = servers.ssh_url("ssh");
    let out = tempfile::tempdir().unwrap();
    let mut options = branch(&url, "main");
    options.auth = ssh_auth(&servers, false);
    let checkout = fetch(&options, &out.path().join("ok")).await.unwrap();
    assert_eq!(checkout.resolved.revision, format!("main@sha1:{head}"));
    assert_tree(&checkout.path);

    // The scp-like form works too (default port would be 22, so only check parsing via ssh://).
    // A different host key for the same host must fail.
    options.auth = ssh_auth(&servers, true);
    let err = fetch(&options, &out.path().join("wrong"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Authentication { .. }), "{err:?}");
    assert_eq!(err.reason(), REASON_AUTHENTICATION_FAILED);

    // No known_hosts at all: refused before connecting.
    options.auth.known_hosts = None;
    let err = fetch(&options, &out.path().join("none")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::MissingKnownHosts { .. }),
        "{err:?}"
    );
    assert!(err.is_stalled());

    // An identity the server does not know is rejected.
    let mut other = ssh_auth(&servers, false);
    let keydir = tempfile::tempdir().unwrap();
    let key = keydir.path().join("k");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    other.ssh_identity = Some(std::fs::read(&key).unwrap());
    options.auth = other;
    let err = fetch(&options, &out.path().join("badkey"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Authentication { .. }), "{err:?}");
}

#[tokio::test]
async fn tags_names_and_commits() {
    let servers = Servers::start();
    let repo = Repo::new(&servers, "refs");
    repo.write("f", "1\n");
    let c1 = repo.commit("one");
    repo.git(&["tag", "-a", "v1.0.0", "-m", "annotated"]);
    repo.write("f", "2\n");
    let c2 = repo.commit("two");
    repo.git(&["tag", "light"]);
    repo.git(&["checkout", "-q", "-b", "dev"]);
    repo.write("f", "dev\n");
    let c3 = repo.commit("dev");
    repo.git(&["checkout", "-q", "main"]);
    repo.push(&["main", "dev", "--tags"]);
    let url = servers.daemon_url("refs");
    let out = tempfile::tempdir().unwrap();
    let dir = |n: &str| out.path().join(n);
    let with = |r: GitReference| FetchOptions::new(url.clone(), r);

    // Annotated tag: the revision names the commit, not the tag object.
    let tag = GitReference {
        tag: Some("v1.0.0".into()),
        ..Default::default()
    };
    let c = fetch(&with(tag.clone()), &dir("tag")).await.unwrap();
    assert_eq!(c.resolved.revision, format!("v1.0.0@sha1:{c1}"));
    assert_eq!(
        std::fs::read_to_string(dir("tag").join("f")).unwrap(),
        "1\n"
    );
    assert_eq!(resolve(&with(tag)).await.unwrap().commit, c1);

    let light = GitReference {
        tag: Some("light".into()),
        ..Default::default()
    };
    let c = fetch(&with(light), &dir("light")).await.unwrap();
    assert_eq!(c.resolved.revision, format!("light@sha1:{c2}"));

    let name = GitReference {
        name: Some("refs/heads/dev".into()),
        ..Default::default()
    };
    let c = fetch(&with(name), &dir("name")).await.unwrap();
    assert_eq!(c.resolved.revision, format!("refs/heads/dev@sha1:{c3}"));
    assert_eq!(
        std::fs::read_to_string(dir("name").join("f")).unwrap(),
        "dev\n"
    );

    // Commit with its branch: revision names the branch; the tree is that commit's, not the tip's.
    let commit_on_main = GitReference {
        branch: Some("main".into()),
        commit: Some(c1.clone()),
        ..Default::default()
    };
    let c = fetch(&with(commit_on_main), &dir("cb")).await.unwrap();
    assert_eq!(c.resolved.revision, format!("main@sha1:{c1}"));
    assert_eq!(std::fs::read_to_string(dir("cb").join("f")).unwrap(), "1\n");

    // Bare commit (from another branch).
    let bare = GitReference {
        commit: Some(c3.clone()),
        ..Default::default()
    };
    let c = fetch(&with(bare), &dir("c")).await.unwrap();
    assert_eq!(c.resolved.revision, format!("sha1:{c3}"));
    assert_eq!(
        std::fs::read_to_string(dir("c").join("f")).unwrap(),
        "dev\n"
    );

    // A commit that is not on the named branch.
    let not_on_main = GitReference {
        branch: Some("main".into()),
        commit: Some(c3.clone()),
        ..Default::default()
    };
    let err = fetch(&with(not_on_main), &dir("x")).await.unwrap_err();
    assert!(matches!(err, FetchError::CommitNotFound { .. }), "{err:?}");
    let unknown = GitReference {
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        ..Default::default()
    };
    let err = fetch(&with(unknown), &dir("y")).await.unwrap_err();
    assert!(matches!(err, FetchError::CommitNotFound { .. }), "{err:?}");

    // Precedence: commit beats name beats tag beats branch.
    let all = GitReference {
        branch: Some("main".into()),
        tag: Some("v1.0.0".into()),
        name: Some("refs/heads/dev".into()),
        ..Default::default()
    };
    let c = fetch(&with(all), &dir("all")).await.unwrap();
    assert_eq!(c.resolved.commit, c3);
    assert_ne!(c2, c3);
}

#[tokio::test]
async fn semver_over_many_tags() {
    let servers = Servers::start();
    let repo = Repo::new(&servers, "semver");
    let mut commits = std::collections::HashMap::new();
    let tags = [
        "v0.1.0",
        "v0.9.3",
        "v1.0.0",
        "v1.1.0",
        "v1.2.0",
        "v1.2.5",
        "1.2.10",
        "v1.3.0-rc.1",
        "v1.10.0",
        "v2.0.0",
        "v2.1.0-beta.2",
        "v2.1.0",
        "v3.0.0-alpha",
        "latest",
        "release-7",
        "v1.9",
        "v0.0.4",
    ];
    for (i, tag) in tags.iter().enumerate() {
        repo.write("version", &format!("{tag}\n"));
        let c = repo.commit(tag);
        if i % 2 == 0 {
            repo.git(&["tag", "-a", tag, "-m", tag]);
        } else {
            repo.git(&["tag", tag]);
        }
        commits.insert(tag.to_string(), c);
    }
    repo.push(&["main", "--tags"]);
    let url = servers.daemon_url("semver");
    let out = tempfile::tempdir().unwrap();
    let cases = [
        (">=1.0.0 <2.0.0", "v1.10.0"),
        ("~1.2", "1.2.10"),
        ("^1", "v1.10.0"),
        ("1.2.x", "1.2.10"),
        ("<1.0.0", "v0.9.3"),
        ("^0.0.4", "v0.0.4"),
        ("*", "v2.1.0"),
        (">=2.1.0-0", "v3.0.0-alpha"),
        ("1.9", "v1.9"),
        ("<0.1 || 2.0.x", "v2.0.0"),
        (">=1.3.0-rc.0 <1.4.0-0", "v1.3.0-rc.1"),
    ];
    for (i, (constraint, want)) in cases.iter().enumerate() {
        let reference = GitReference {
            semver: Some(constraint.to_string()),
            tag: Some("v0.1.0".into()), // semver wins over tag
            ..Default::default()
        };
        let dest = out.path().join(format!("c{i}"));
        let c = fetch(&FetchOptions::new(url.clone(), reference), &dest)
            .await
            .unwrap();
        let commit = &commits[*want];
        assert_eq!(
            c.resolved.revision,
            format!("{want}@sha1:{commit}"),
            "{constraint}"
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("version")).unwrap(),
            format!("{want}\n"),
            "{constraint}"
        );
    }
    let none = GitReference {
        semver: Some(">=9".into()),
        ..Default::default()
    };
    let err = fetch(
        &FetchOptions::new(url.clone(), none),
        &out.path().join("none"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::NoMatchingTag { .. }), "{err:?}");
    let invalid = GitReference {
        semver: Some(">=x.y".into()),
        ..Default::default()
    };
    let err = fetch(&FetchOptions::new(url, invalid), &out.path().join("bad"))
        .await
        .unwrap_err();
    assert!(err.is_stalled(), "{err:?}");
}

#[tokio::test]
async fn force_pushed_branch_is_picked_up() {
    let servers = Servers::start();
    let repo = Repo::new(&servers, "force");
    repo.write("a", "one\n");
    let first = repo.commit("one");
    repo.push(&["main"]);
    let url = servers.http_url("public", "force");
    let out = tempfile::tempdir().unwrap();
    let c = fetch(&branch(&url, "main"), &out.path().join("1"))
        .await
        .unwrap();
    assert_eq!(c.resolved.commit, first);

    // Rewrite history: a new root commit replaces main.
    repo.git(&["checkout", "-q", "--orphan", "rewritten"]);
    repo.git(&["rm", "-q", "-rf", "."]);
    repo.write("b", "rewritten\n");
    let rewritten = repo.commit("rewritten");
    repo.push(&["rewritten:main"]);
    let c = fetch(&branch(&url, "main"), &out.path().join("2"))
        .await
        .unwrap();
    assert_eq!(c.resolved.commit, rewritten);
    assert_eq!(files(&c.path), ["b"]);
    assert_eq!(
        resolve(&branch(&url, "main")).await.unwrap().commit,
        rewritten
    );
}

#[tokio::test]
async fn server_down_then_back() {
    // A port with nothing listening: a connect error, retryable, reason GitOperationFailed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let repos = tempfile::tempdir().unwrap();
    let bare = repos.path().join("r.git");
    std::fs::create_dir_all(&bare).unwrap();
    git(&bare, &["init", "-q", "--bare"]);
    let work = tempfile::tempdir().unwrap();
    git(work.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(work.path().join("x"), "x\n").unwrap();
    git(work.path(), &["add", "x"]);
    git(work.path(), &["commit", "-q", "-m", "x"]);
    git(work.path(), &["push", "-q", bare.to_str().unwrap(), "main"]);

    let url = format!("git://127.0.0.1:{port}/r.git");
    let out = tempfile::tempdir().unwrap();
    let err = fetch(&branch(&url, "main"), &out.path().join("1"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");
    assert_eq!(err.reason(), REASON_GIT_OPERATION_FAILED);
    assert!(!err.is_stalled());
    let https = branch("https://127.0.0.1:1/r.git", "main");
    let err = resolve(&https).await.unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");

    // The server comes back on the same port: the next fetch succeeds.
    let mut daemon = keelson_testsupport::git_daemon()
        .args(["--reuseaddr", "--listen=127.0.0.1", "--export-all"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", repos.path().display()))
        .arg(repos.path())
        .spawn()
        .unwrap();
    let mut ok = None;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            ok = Some(fetch(&branch(&url, "main"), &out.path().join("2")).await);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let c = ok.expect("git daemon did not start").unwrap();
    assert_eq!(files(&c.path), ["x"]);
}

#[tokio::test]
async fn invalid_urls_are_stalled() {
    for url in ["", "not a url", "ftp://h/r", "https://user:hunter2@/x"] {
        let err = fetch(&branch(url, "main"), std::path::Path::new("/nonexistent/x"))
            .await
            .unwrap_err();
        assert!(err.is_stalled(), "{url}: {err:?}");
        assert_eq!(err.reason(), "URLInvalid", "{url}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[tokio::test]
async fn unresponsive_server_times_out() {
    // Accepts TCP connections (kernel backlog) but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut options = branch(&format!("git://127.0.0.1:{port}/r.git"), "main");
    options.timeout = std::time::Duration::from_secs(2);
    let out = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let err = fetch(&options, &out.path().join("t")).await.unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(err.reason(), REASON_GIT_OPERATION_FAILED);
    drop(listener);
}
