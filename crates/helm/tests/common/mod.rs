//! Helpers shared by the differential tests: running the real helm, packaging fixture charts,
//! comparing rendered streams as objects.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as J;

/// The fixture charts of this crate.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charts")
}

/// Runs the real helm with `args`; stdout on success, stderr on failure.
pub fn helm(args: &[&str]) -> Result<String, String> {
    let out = Command::new(keelson_testsupport::tool("helm"))
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

/// `helm package CHART -d DEST`; returns the archive's path.
pub fn package(chart: &Path, dest: &Path) -> PathBuf {
    std::fs::create_dir_all(dest).unwrap();
    let out = helm(&[
        "package",
        chart.to_str().unwrap(),
        "-d",
        dest.to_str().unwrap(),
    ])
    .unwrap_or_else(|e| panic!("helm package {}: {e}", chart.display()));
    // "Successfully packaged chart and saved it to: /path/x.tgz"
    PathBuf::from(out.trim().rsplit(": ").next().unwrap().trim())
}

/// Parses a multi-document YAML stream into JSON objects (empty documents dropped).
pub fn objects(text: &str) -> Result<Vec<J>, String> {
    let docs = keelson_helm::yaml::parse_all(text).map_err(|e| e.to_string())?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.is_nil())
        .map(|d| keelson_helm::json::to_serde(&keelson_helm::yaml::json_numbers(d)))
        .collect())
}

/// The `# Source:` lines of a rendered stream, in order.
pub fn sources(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# Source: "))
        .map(str::to_string)
        .collect()
}

fn ident(o: &J) -> String {
    format!(
        "{}/{}",
        o.get("kind").and_then(J::as_str).unwrap_or("?"),
        o.pointer("/metadata/name")
            .and_then(J::as_str)
            .unwrap_or("?")
    )
}

/// Compares two rendered streams as objects, in order; describes the first differences.
pub fn compare_streams(helm: &str, ours: &str) -> Result<(), String> {
    compare_objects(
        objects(helm).map_err(|e| format!("helm output does not parse: {e}"))?,
        objects(ours).map_err(|e| format!("our output does not parse: {e}"))?,
    )
}

/// Compares object lists in order.
pub fn compare_objects(h: Vec<J>, o: Vec<J>) -> Result<(), String> {
    if h == o {
        return Ok(());
    }
    let hi: Vec<String> = h.iter().map(ident).collect();
    let oi: Vec<String> = o.iter().map(ident).collect();
    if hi != oi {
        return Err(format!("objects differ: helm {hi:?}\n ours {oi:?}"));
    }
    for (i, (a, b)) in h.iter().zip(o.iter()).enumerate() {
        if a != b {
            return Err(format!("{}: helm {a}\n ours {b}", hi[i]));
        }
    }
    Err("differ".into())
}

/// `f` over `items` on a few threads (the real helm runs as a process, so cases overlap),
/// results in the order of `items`.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}
