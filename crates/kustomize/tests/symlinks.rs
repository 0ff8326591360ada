//! Hostile input: symlinks that lead out of the root. A repository is untrusted (the gate and
//! `keelson build` run on pull requests in CI), so a `configMapGenerator` file or a `resources:`
//! entry that is a symlink to a host file must never be read. kustomize refuses both under its
//! root-only load restrictor ("security; file … is not in or below …"); keelson refuses them
//! there too, and — unlike kustomize — also with the restrictor off, where the boundary is the
//! root the filesystem was given (the checkout or artifact).
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use keelson_kustomize::{LoadRestrictor, Options, RealFs};

const HOST_SECRET: &str = "host-secret-value-3f9a";

struct Layout {
    _tmp: tempfile::TempDir,
    /// The checkout: what the build may read.
    root: PathBuf,
    /// A file outside the checkout, standing for a CI runner's credentials.
    outside: PathBuf,
}

fn layout() -> Layout {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("checkout");
    std::fs::create_dir_all(root.join("app")).unwrap();
    let outside = tmp.path().join("host");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("credentials"),
        format!("token={HOST_SECRET}\n"),
    )
    .unwrap();
    std::fs::write(
        outside.join("cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaked\ndata:\n  v: {HOST_SECRET}\n"),
    )
    .unwrap();
    Layout {
        _tmp: tmp,
        root,
        outside,
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn build(fs_root: &Path, dir: &Path, restrictor: LoadRestrictor) -> Result<String, String> {
    let fs = RealFs::new(fs_root).unwrap();
    keelson_kustomize::build_yaml(
        &fs,
        dir,
        &Options {
            load_restrictor: restrictor,
        },
    )
    .map_err(|e| e.to_string())
}

/// The real kustomize's verdict under a restrictor: Ok(output) or Err(stderr).
fn kustomize(dir: &Path, restrictor: &str) -> Result<String, String> {
    let out = Command::new(keelson_testsupport::tool("kustomize"))
        .args(["build", "--load-restrictor", restrictor])
        .arg(dir)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn assert_refused(result: Result<String, String>, link: &str) {
    let err = result.expect_err("a symlink out of the root must be refused");
    assert!(
        err.contains("security; file") && err.contains(link),
        "the error names the link and the reason: {err}"
    );
    assert!(
        !err.contains(HOST_SECRET),
        "the host file leaked into the error: {err}"
    );
}

#[test]
fn a_config_map_generator_file_symlinked_out_of_the_root_is_refused() {
    let l = layout();
    let app = l.root.join("app");
    symlink(l.outside.join("credentials"), app.join("config.env")).unwrap();
    write(
        &app,
        "kustomization.yaml",
        "configMapGenerator:\n- name: cfg\n  envs:\n  - config.env\n- name: files\n  files:\n  - config.env\n",
    );
    // kustomize: refused under its default restrictor.
    let reference = kustomize(&app, "LoadRestrictionsRootOnly");
    assert!(
        reference
            .as_ref()
            .is_err_and(|e| e.contains("security; file")),
        "kustomize refuses it: {reference:?}"
    );
    assert_refused(build(&l.root, &app, LoadRestrictor::RootOnly), "config.env");
    // Flux's setting: kustomize would read the host file; keelson still refuses it.
    assert_refused(build(&l.root, &app, LoadRestrictor::None), "config.env");
}

#[test]
fn a_resource_symlinked_out_of_the_root_is_refused() {
    let l = layout();
    let app = l.root.join("app");
    symlink(l.outside.join("cm.yaml"), app.join("cm.yaml")).unwrap();
    write(&app, "kustomization.yaml", "resources:\n- cm.yaml\n");
    let reference = kustomize(&app, "LoadRestrictionsRootOnly");
    assert!(
        reference
            .as_ref()
            .is_err_and(|e| e.contains("security; file")),
        "kustomize refuses it: {reference:?}"
    );
    assert_refused(build(&l.root, &app, LoadRestrictor::RootOnly), "cm.yaml");
    assert_refused(build(&l.root, &app, LoadRestrictor::None), "cm.yaml");
}

#[test]
fn a_symlinked_directory_out_of_the_root_is_refused() {
    let l = layout();
    let app = l.root.join("app");
    write(&l.outside, "kustomization.yaml", "resources:\n- cm.yaml\n");
    symlink(&l.outside, app.join("base")).unwrap();
    write(&app, "kustomization.yaml", "resources:\n- base\n");
    assert_refused(build(&l.root, &app, LoadRestrictor::None), "base");
    // A Flux path without a kustomization file: the generated one walks the directory.
    let flux = l.root.join("flux");
    std::fs::create_dir_all(&flux).unwrap();
    symlink(l.outside.join("cm.yaml"), flux.join("cm.yaml")).unwrap();
    let fs = RealFs::new(&l.root).unwrap();
    let err = keelson_kustomize::build_flux(
        &fs,
        &flux,
        &Options {
            load_restrictor: LoadRestrictor::None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("security; file"), "{err}");
    assert!(!err.contains(HOST_SECRET), "{err}");
}

#[test]
fn symlinks_that_stay_inside_the_root_follow_kustomize() {
    let l = layout();
    let app = l.root.join("app");
    let shared = l.root.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    write(
        &shared,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  a: b\n",
    );
    symlink(shared.join("cm.yaml"), app.join("cm.yaml")).unwrap();
    write(&app, "kustomization.yaml", "resources:\n- cm.yaml\n");
    // Root-only: the link's real location is outside the kustomization's directory, so both
    // refuse it; with the restrictor off both read it.
    assert!(kustomize(&app, "LoadRestrictionsRootOnly").is_err());
    let err = build(&l.root, &app, LoadRestrictor::RootOnly).unwrap_err();
    assert!(
        err.contains("security; file") && err.contains("LoadRestrictionsRootOnly"),
        "{err}"
    );
    let reference: Vec<serde_json::Value> =
        keelson_manifest::parse_documents(&kustomize(&app, "LoadRestrictionsNone").unwrap())
            .unwrap();
    let ours =
        keelson_manifest::parse_documents(&build(&l.root, &app, LoadRestrictor::None).unwrap())
            .unwrap();
    assert_eq!(ours, reference);
    assert_eq!(ours.len(), 1);
}
