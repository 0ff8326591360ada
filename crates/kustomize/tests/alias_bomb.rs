//! A YAML alias bomb ("billion laughs") as a kustomization's resource: the build must be refused
//! quickly with an error naming the file, document and line, in bounded memory (kustomize
//! itself grows past 10 GB on it). This file holds one test so the process's peak memory is
//! this build's.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use keelson_kustomize::{LoadRestrictor, Options, RealFs};

/// Nine levels of nine aliases: 9^9 strings from a few hundred bytes.
fn billion_laughs() -> String {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let (prev, next) = (w[0], w[1]);
        text.push_str(&format!(
            "  {next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    text
}

/// Peak resident memory of this process in kB (Linux).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn alias_bomb_resource_is_refused_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n- ok.yaml\n- bomb.yaml\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ok.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
    )
    .unwrap();
    let bomb = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: first\n---\n{}",
        billion_laughs()
    );
    assert!(bomb.len() < 1024);
    std::fs::write(dir.path().join("bomb.yaml"), bomb).unwrap();

    let start = Instant::now();
    let err = keelson_kustomize::build(
        &RealFs::new(dir.path()).unwrap(),
        dir.path(),
        &Options {
            load_restrictor: LoadRestrictor::None,
        },
    )
    .unwrap_err();
    let elapsed = start.elapsed();
    let msg = err.to_string();
    assert!(msg.contains("bomb.yaml"), "{msg}");
    assert!(
        msg.contains("YAML alias expansion exceeds the limit in document 1 at line 14"),
        "{msg}"
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    if let Some(kb) = peak_rss_kb() {
        assert!(kb < 256 * 1024, "peak memory {kb} kB");
    }
}
