//! The container image `scripts/image.sh` makes (issue 17): two builds of one commit and binary
//! give the same digest; the config runs `keelson` as 65534 with the OCI labels; the layer holds
//! no shell and the binary carries no debug info (split off beside the layout).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn build(out: &Path) {
    let status = Command::new("bash")
        .arg(keelson_testsupport::workspace_root().join("scripts/image.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_keelson")])
        .arg("--out")
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success(), "scripts/image.sh failed");
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The blob of a `sha256:<hex>` digest in a layout.
fn blob(layout: &Path, digest: &str) -> std::path::PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

#[test]
fn the_image_is_reproducible_non_root_shell_free_and_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    build(&a);
    build(&b);
    let (index_a, index_b) = (json(&a.join("index.json")), json(&b.join("index.json")));
    let digest = index_a["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        digest,
        index_b["manifests"][0]["digest"].as_str().unwrap(),
        "two builds of one commit give one digest"
    );
    let manifest = json(&blob(&a, &digest));
    let config = json(&blob(&a, manifest["config"]["digest"].as_str().unwrap()));
    let c = &config["config"];
    assert_eq!(c["User"], "65534:65534");
    assert_eq!(c["Entrypoint"], serde_json::json!(["keelson"]));
    let revision = keelson_testsupport::git::git(
        &keelson_testsupport::workspace_root(),
        &["rev-parse", "HEAD"],
    );
    for (label, want) in [
        (
            "org.opencontainers.image.source",
            "https://github.com/keelson/keelson",
        ),
        (
            "org.opencontainers.image.version",
            env!("CARGO_PKG_VERSION"),
        ),
        ("org.opencontainers.image.revision", revision.as_str()),
    ] {
        assert_eq!(c["Labels"][label], want, "label {label}");
    }

    // The layers: the binary stripped, no shell anywhere.
    let mut names = Vec::new();
    let mut binary_size = None;
    let mut compressed = 0u64;
    for layer in manifest["layers"].as_array().unwrap() {
        compressed += layer["size"].as_u64().unwrap();
        let file = std::fs::File::open(blob(&a, layer["digest"].as_str().unwrap())).unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            if path.trim_start_matches("./").ends_with("bin/keelson") {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                binary_size = Some(bytes.len());
                // Its section headers, as binutils reads them: no debug info or symbol table is left.
                let copy = dir.path().join("keelson-from-image");
                std::fs::write(&copy, &bytes).unwrap();
                let sections = Command::new("readelf")
                    .args(["-S", "--wide"])
                    .arg(&copy)
                    .output()
                    .unwrap();
                assert!(sections.status.success(), "readelf failed");
                let sections = String::from_utf8_lossy(&sections.stdout).into_owned();
                // (.debug_gdb_scripts is rustc's loaded pretty-printer list, not debug info.)
                assert!(
                    sections.contains(".gnu_debuglink")
                        && [".debug_info", ".debug_line", ".debug_str", ".symtab"]
                            .iter()
                            .all(|s| !sections.contains(&format!("{s} "))),
                    "the binary in the image carries no debug info, only a link to it:\n{sections}"
                );
            }
            names.push(path);
        }
    }
    for shell in ["bin/sh", "bin/bash", "bin/busybox", "bin/dash"] {
        assert!(
            !names.iter().any(|n| n.ends_with(shell)),
            "no shell ({shell}) in the image: {names:?}"
        );
    }
    let binary_size = binary_size.unwrap_or_else(|| panic!("no keelson binary in {names:?}"));
    assert!(
        a.join("keelson.debug").is_file(),
        "the debug info is kept beside the layout"
    );
    eprintln!(
        "image: {digest}, {compressed} bytes compressed, binary {binary_size} bytes (from the test binary)"
    );
}
