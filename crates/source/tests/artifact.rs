//! Artifacts: ignore rules (asserted on the tarball's contents), determinism, storage layout,
//! garbage collection, unpacking and the HTTP file server.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::time::Duration;

use common::{Repo, Servers, branch};
use keelson_source::{Filter, ObjectKey, Storage, git_artifact, unpack};

/// Entries (name, mode, mtime, uid, gid, is_dir) of a tar.gz file.
fn entries(path: &std::path::Path) -> Vec<(String, u32, u64, u64, u64, bool)> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches('/')
                    .to_string(),
                h.mode().unwrap(),
                h.mtime().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.entry_type().is_dir(),
            )
        })
        .collect()
}

fn file_names(path: &std::path::Path) -> Vec<String> {
    entries(path)
        .into_iter()
        .filter(|e| !e.5)
        .map(|e| e.0)
        .collect()
}

const KEY: ObjectKey<'static> = ObjectKey {
    kind: "GitRepository",
    namespace: "flux-system",
    name: "app",
};

#[tokio::test]
async fn default_exclusions_without_user_rules() {
    let servers = Servers::start();
    let repo = Repo::new(&servers, "defaults");
    for f in [
        "app.yaml",
        ".gitignore",
        ".gitattributes",
        ".github/workflows/ci.yaml",
        ".circleci/config.yml",
        ".travis.yml",
        "logo.png",
        "docs/pic.JPG",
        "docs/guide.md",
        "bundle.tar.gz",
        "sub/.sops.yaml",
        ".goreleaser.yml",
        "cloudbuild.yaml",
    ] {
        repo.write(f, "x\n");
    }
    let head = repo.commit("c");
    repo.push(&["main"]);
    let store = tempfile::tempdir().unwrap();
    let storage = Storage::new(store.path(), "127.0.0.1:9090").unwrap();
    let artifact = git_artifact(
        &storage,
        &KEY,
        &branch(&servers.daemon_url("defaults"), "main"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        artifact.path,
        format!("gitrepository/flux-system/app/{head}.tar.gz")
    );
    assert_eq!(
        artifact.url,
        format!("http://127.0.0.1:9090/gitrepository/flux-system/app/{head}.tar.gz")
    );
    assert_eq!(artifact.revision, format!("main@sha1:{head}"));
    let local = storage.local_path(&artifact.path);
    // *.jpg is case-sensitive in gitignore, so docs/pic.JPG stays.
    assert_eq!(
        file_names(&local),
        ["app.yaml", "docs/guide.md", "docs/pic.JPG"]
    );
    assert!(artifact.digest.starts_with("sha256:") && artifact.digest.len() == 71);
    storage.verify(&artifact).unwrap();
}

#[tokio::test]
async fn sourceignore_at_any_depth_and_spec_ignore() {
    let servers = Servers::start();
    let repo = Repo::new(&servers, "ignores");
    repo.write(".sourceignore", "# root rules\n*.md\n/tmp/\n!keep.md\n");
    repo.write("README.md", "x");
    repo.write("keep.md", "x");
    repo.write("tmp/a.yaml", "x");
    repo.write("apps/tmp/b.yaml", "x"); // /tmp/ is anchored to the root
    repo.write("apps/.sourceignore", "secret.yaml\n/local/\n");
    repo.write("apps/secret.yaml", "x");
    repo.write("apps/deep/secret.yaml", "x");
    repo.write("apps/local/c.yaml", "x");
    repo.write("apps/app.yaml", "x");
    repo.write("local/d.yaml", "x"); // apps' /local/ does not apply here
    repo.write("logo.png", "x"); // defaults are off once user rules exist
    repo.write(".github/workflows/ci.yaml", "x");
    repo.write("clusters/prod/kustomization.yaml", "x");
    repo.write("clusters/dev/kustomization.yaml", "x");
    repo.write(".gitignore", "x"); // VCS files are always excluded
    repo.commit("c");
    repo.push(&["main"]);
    let store = tempfile::tempdir().unwrap();
    let storage = Storage::new(store.path(), "h").unwrap();
    let spec_ignore = "clusters/**\n!clusters/prod/\n!clusters/prod/**\n";
    let artifact = git_artifact(
        &storage,
        &KEY,
        &branch(&servers.daemon_url("ignores"), "main"),
        Some(spec_ignore),
    )
    .await
    .unwrap();
    let names = file_names(&storage.local_path(&artifact.path));
    assert_eq!(
        names,
        [
            ".github/workflows/ci.yaml",
            ".sourceignore",
            "apps/.sourceignore",
            "apps/app.yaml",
            "apps/tmp/b.yaml",
            "clusters/prod/kustomization.yaml",
            "keep.md",
            "local/d.yaml",
            "logo.png",
        ]
    );
}

#[tokio::test]
async fn archives_are_deterministic_and_normalised() {
    let src = tempfile::tempdir().unwrap();
    let root = src.path();
    std::fs::create_dir_all(root.join("b/c")).unwrap();
    std::fs::write(root.join("b/c/z.yaml"), "z").unwrap();
    std::fs::write(root.join("a.yaml"), "a").unwrap();
    std::fs::write(root.join("b.yaml"), "b").unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh").unwrap();
    std::os::unix::fs::symlink("a.yaml", root.join("link.yaml")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o775)).unwrap();
    let long = format!("{}/file.yaml", "d".repeat(120));
    std::fs::create_dir_all(root.join("d".repeat(120))).unwrap();
    std::fs::write(root.join(&long), "long").unwrap();

    let store = tempfile::tempdir().unwrap();
    let storage = Storage::new(store.path(), "h").unwrap();
    let filter = Filter::for_dir(root, None).unwrap();
    let first = storage
        .archive("gitrepository/ns/n/one.tar.gz", "r", root, &filter)
        .unwrap();
    // Touch everything: new mtimes and owners' umask must not change the bytes.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(root.join("a.yaml"), "a").unwrap();
    let second = storage
        .archive("gitrepository/ns/n/two.tar.gz", "r", root, &filter)
        .unwrap();
    assert_eq!(first.digest, second.digest);
    assert_eq!(
        std::fs::read(storage.local_path(&first.path)).unwrap(),
        std::fs::read(storage.local_path(&second.path)).unwrap()
    );
    let got = entries(&storage.local_path(&first.path));
    let want: Vec<(String, u32, u64, u64, u64, bool)> = vec![
        ("a.yaml".into(), 0o600, 0, 0, 0, false),
        ("b".into(), 0o750, 0, 0, 0, true),
        ("b/c".into(), 0o750, 0, 0, 0, true),
        ("b/c/z.yaml".into(), 0o600, 0, 0, 0, false),
        ("b.yaml".into(), 0o600, 0, 0, 0, false),
        ("d".repeat(120), 0o750, 0, 0, 0, true),
        (long.clone(), 0o600, 0, 0, 0, false),
        ("run.sh".into(), 0o700, 0, 0, 0, false),
    ];
    assert_eq!(
        got, want,
        "symlinks skipped, modes normalised, depth-first name order"
    );

    // Unpack round trip.
    let dest = tempfile::tempdir().unwrap();
    unpack(
        std::fs::File::open(storage.local_path(&first.path)).unwrap(),
        dest.path(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dest.path().join(&long)).unwrap(),
        "long"
    );
    assert_eq!(
        std::fs::read_to_string(dest.path().join("b/c/z.yaml")).unwrap(),
        "z"
    );
    assert!(!dest.path().join("link.yaml").exists());
}

#[tokio::test]
async fn garbage_collection_keeps_the_newest() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), "f").unwrap();
    let store = tempfile::tempdir().unwrap();
    let storage = Storage::new(store.path(), "h")
        .unwrap()
        .with_retention(2, Duration::from_secs(3600));
    let filter = Filter::for_dir(src.path(), None).unwrap();
    let mut last = None;
    for i in 0..5 {
        let path =
            Storage::artifact_path("GitRepository", "ns", "n", &format!("{i}.tar.gz")).unwrap();
        let a = storage.archive(&path, "r", src.path(), &filter).unwrap();
        // Distinct modification times, oldest first.
        let f = std::fs::File::options()
            .write(true)
            .open(storage.local_path(&a.path))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(100 - i * 10))
            .unwrap();
        last = Some(a);
    }
    let current = last.unwrap();
    let removed = storage.garbage_collect(&current).unwrap();
    assert_eq!(removed.len(), 3, "{removed:?}");
    let mut left: Vec<String> = std::fs::read_dir(store.path().join("gitrepository/ns/n"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["3.tar.gz", "4.tar.gz"]);

    // TTL: with a 1s TTL only the current artifact survives once the others are old.
    let storage = storage.with_retention(5, Duration::from_secs(1));
    assert_eq!(storage.garbage_collect(&current).unwrap().len(), 1);
    assert!(storage.exists(&current));
    assert!(
        storage
            .remove_all("GitRepository", "ns", "n")
            .unwrap()
            .is_some()
    );
    assert!(!storage.exists(&current));
}

#[tokio::test]
async fn artifacts_are_served_over_http() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f.yaml"), "kind: X\n").unwrap();
    let store = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let storage = Storage::new(store.path(), addr.to_string()).unwrap();
    let filter = Filter::for_dir(src.path(), None).unwrap();
    let a = storage
        .archive(
            "gitrepository/ns/n/abc.tar.gz",
            "main@sha1:abc",
            src.path(),
            &filter,
        )
        .unwrap();
    let root = store.path().to_path_buf();
    let server = tokio::spawn(keelson_source::server::serve_artifacts(listener, root));
    let url = a.url.clone();
    let missing = format!("http://{addr}/gitrepository/ns/n/nope.tar.gz");
    let escape = format!("http://{addr}/../../etc/passwd");
    let (body, status_missing, status_escape) = tokio::task::spawn_blocking(move || {
        let client = reqwest::blocking::Client::new();
        let body = client.get(&url).send().unwrap().bytes().unwrap().to_vec();
        let m = client.get(&missing).send().unwrap().status().as_u16();
        let e = client.get(&escape).send().unwrap().status().as_u16();
        (body, m, e)
    })
    .await
    .unwrap();
    server.abort();
    assert_eq!(body, std::fs::read(storage.local_path(&a.path)).unwrap());
    assert_eq!(status_missing, 404);
    assert_eq!(status_escape, 404);
    let dest = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    std::io::Cursor::new(body).read_to_end(&mut bytes).unwrap();
    unpack(std::io::Cursor::new(bytes), dest.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dest.path().join("f.yaml")).unwrap(),
        "kind: X\n"
    );
}

/// Ignore rules judged as Flux judges them (each path on its own, the last pattern matching it
/// or a parent decides), compared with the real `flux build artifact --ignore-paths` on the same
/// tree: `!` can re-include below an excluded directory, which plain git cannot.
#[test]
fn ignore_rules_match_flux_build_artifact() {
    let src = tempfile::tempdir().unwrap();
    let root = src.path();
    for f in [
        "README.md",
        "docs/d.md",
        "docs/keep.md",
        "src/top.yaml",
        "src/1.0/a.yaml",
        "src/1.0/sub/b.yaml",
        "src/1.1/c.yaml",
        "src/1.1/sub/b.yaml",
        "clusters/prod/k.yaml",
        "clusters/dev/k.yaml",
    ] {
        let path = root.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x\n").unwrap();
    }
    let cases: &[&[&str]] = &[
        &["/*", "!/src/1.0/"],
        &["!/src/1.0/", "/*"],
        &["docs/", "!docs/keep.md"],
        &["*.md", "!docs/keep.md"],
        &["src/**/b.yaml", "top.yaml"],
        &["**/sub"],
        &["clusters/**", "!clusters/prod/"],
        &["/*", "!/src/", "/src/1.1/"],
    ];
    let store = tempfile::tempdir().unwrap();
    let storage = Storage::new(store.path(), "h").unwrap();
    for (i, patterns) in cases.iter().enumerate() {
        let filter = Filter::for_dir(root, Some(&patterns.join("\n"))).unwrap();
        let ours = storage
            .archive(
                &format!("gitrepository/ns/n/{i}.tar.gz"),
                "r",
                root,
                &filter,
            )
            .unwrap();
        let ours = file_names(&storage.local_path(&ours.path));

        let flux_out = store.path().join(format!("flux-{i}.tgz"));
        let out = std::process::Command::new(keelson_testsupport::tool("flux"))
            .args(["build", "artifact", "--path"])
            .arg(root)
            .arg("--output")
            .arg(&flux_out)
            .arg(format!("--ignore-paths={}", patterns.join(",")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "flux build artifact: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut theirs = file_names(&flux_out);
        theirs.sort();
        assert_eq!(ours, theirs, "patterns {patterns:?}");
    }
}
