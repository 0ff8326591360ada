//! `keelson build DIR` outside a Git work tree: the default root is the folder itself (or the
//! current directory when it holds DIR), so an overlay's `../base` is refused — with an error
//! that says which root was taken and why, and how to widen it — and `--root` builds what the
//! real `kustomize build` builds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn keelson(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    write("base/kustomization.yaml", "resources: [cm.yaml]\n");
    write(
        "base/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  a: \"1\"\n",
    );
    write(
        "overlay/kustomization.yaml",
        "resources: [../base]\nnamePrefix: staging-\n",
    );
    dir
}

#[test]
fn outside_a_git_tree_the_root_is_named_and_root_widens_it() {
    let dir = tree();
    let overlay = dir.path().join("overlay");
    let elsewhere = tempfile::tempdir().unwrap();

    let refused = keelson(&["build", overlay.to_str().unwrap()], elsewhere.path());
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("is not in or below"), "{stderr}");
    assert!(
        stderr.contains("neither a Git work tree nor the current directory holds it")
            && stderr.contains("pass --root DIR"),
        "the error says which root was taken, why, and how to widen it: {stderr}"
    );
    assert!(refused.stdout.is_empty());

    let kustomize = Command::new(keelson_testsupport::tool("kustomize"))
        .args(["build", overlay.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(kustomize.status.success());
    let want =
        keelson_manifest::parse_documents(&String::from_utf8_lossy(&kustomize.stdout)).unwrap();
    for (args, cwd) in [
        (
            vec![
                "build",
                overlay.to_str().unwrap(),
                "--root",
                dir.path().to_str().unwrap(),
            ],
            elsewhere.path(),
        ),
        // The current directory holds it: that is the root.
        (vec!["build", "overlay"], dir.path()),
    ] {
        let built = keelson(&args, cwd);
        assert!(
            built.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let got =
            keelson_manifest::parse_documents(&String::from_utf8_lossy(&built.stdout)).unwrap();
        assert_eq!(got, want, "{args:?} builds what kustomize builds");
    }
}
