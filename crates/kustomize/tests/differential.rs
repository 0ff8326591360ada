//! Differential test: every kustomization folder of the shared corpus and of `tests/cases/`
//! is built by the reference `kustomize build --load-restrictor LoadRestrictionsNone` and by our
//! engine; the outputs must be the same objects in the same order, and a failure of kustomize
//! must be a failure of ours. Cases listed in `tests/known-failures.txt` (with a reason) are
//! expected to differ; a listed case that passes fails the test so the list stays honest.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use keelson_kustomize::{KUSTOMIZATION_FILE_NAMES, LoadRestrictor, Options, RealFs};
use keelson_manifest::ObjectId;
use serde_json::Value;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    if KUSTOMIZATION_FILE_NAMES
        .iter()
        .any(|n| dir.join(n).is_file())
    {
        out.push(dir.to_path_buf());
    }
    for e in entries {
        if e.is_dir() {
            collect(&e, out);
        }
    }
}

fn cases() -> Vec<(String, PathBuf)> {
    let shared = keelson_testsupport::shared_dir().join("corpus");
    let own = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut out = Vec::new();
    for (label, root) in [
        ("corpus", shared.join("kustomize/cases")),
        ("corpus", shared.join("kustomize/kustomize-examples")),
        ("corpus", shared.join("flux-repos")),
        ("own", own.clone()),
    ] {
        let mut dirs = Vec::new();
        collect(&root, &mut dirs);
        for d in dirs {
            let base = if label == "own" { &own } else { &shared };
            let rel = d.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            out.push((format!("{label}/{rel}"), d));
        }
    }
    out
}

/// The paths where two values differ (at most a few), with both sides, for the report.
fn first_difference(e: &Value, o: &Value, path: &str, out: &mut Vec<String>) {
    if out.len() >= 3 || e == o {
        return;
    }
    match (e, o) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => first_difference(v, w, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: missing in ours")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}.{k}: only in ours"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                first_difference(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ => out.push(format!("{path}: kustomize {e:?}, ours {o:?}")),
    }
}

fn key(v: &Value) -> (String, String, String, String) {
    let id = ObjectId::of(v);
    (id.api_version(), id.kind, id.namespace, id.name)
}

enum Outcome {
    Pass,
    Fail(String),
    /// Not comparable offline: the reason.
    Skip(String),
}

fn run_case(kustomize: &Path, dir: &Path) -> Outcome {
    let reference = Command::new(kustomize)
        .args(["build", "--load-restrictor", "LoadRestrictionsNone"])
        .arg(dir)
        .output()
        .unwrap();
    // Confined to the folder that holds the case's group (the corpus, or tests/cases).
    let real = std::fs::canonicalize(dir).unwrap();
    let shared = std::fs::canonicalize(keelson_testsupport::shared_dir()).unwrap();
    let root = if real.starts_with(&shared) {
        shared
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
    };
    let ours = keelson_kustomize::build(
        &RealFs::new(root).unwrap(),
        dir,
        &Options {
            load_restrictor: LoadRestrictor::None,
        },
    );
    // A remote resource (URL, git repository) needs the network, which neither side has here.
    if let Err(keelson_kustomize::Error::Remote { resource, path }) = &ours {
        return Outcome::Skip(format!(
            "remote resource {resource} (in {}) needs the network",
            path.display()
        ));
    }
    match (reference.status.success(), ours) {
        (false, Err(_)) => Outcome::Pass,
        (false, Ok(_)) => Outcome::Fail(format!(
            "kustomize failed but we succeeded: {}",
            String::from_utf8_lossy(&reference.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        (true, Err(e)) => Outcome::Fail(format!("we failed: {e}")),
        (true, Ok(objects)) => {
            let text = String::from_utf8_lossy(&reference.stdout);
            let expected = match keelson_manifest::parse_documents(&text) {
                Ok(docs) => docs,
                Err(e) => return Outcome::Fail(format!("cannot parse kustomize output: {e}")),
            };
            // Also round-trip our YAML so the emitter is under test.
            let ours_text = keelson_manifest::to_yaml_stream(&objects);
            let ours = match keelson_manifest::parse_documents(&ours_text) {
                Ok(docs) => docs,
                Err(e) => return Outcome::Fail(format!("cannot parse our output: {e}")),
            };
            let mut e_sorted: Vec<&Value> = expected.iter().collect();
            let mut o_sorted: Vec<&Value> = ours.iter().collect();
            e_sorted.sort_by_key(|v| key(v));
            o_sorted.sort_by_key(|v| key(v));
            if e_sorted.len() != o_sorted.len() {
                let ek: Vec<_> = e_sorted.iter().map(|v| key(v)).collect();
                let ok: Vec<_> = o_sorted.iter().map(|v| key(v)).collect();
                return Outcome::Fail(format!(
                    "{} objects expected, {} built\n  expected {ek:?}\n  built    {ok:?}",
                    e_sorted.len(),
                    o_sorted.len()
                ));
            }
            for (e, o) in e_sorted.iter().zip(&o_sorted) {
                if e != o {
                    let mut at = Vec::new();
                    first_difference(e, o, "", &mut at);
                    return Outcome::Fail(format!(
                        "object {:?} differs at {}\n--- kustomize\n{}--- keelson\n{}",
                        key(e),
                        at.join("; "),
                        keelson_manifest::to_yaml(e),
                        keelson_manifest::to_yaml(o)
                    ));
                }
            }
            let eo: Vec<_> = expected.iter().map(key).collect();
            let oo: Vec<_> = ours.iter().map(key).collect();
            if eo != oo {
                return Outcome::Fail(format!(
                    "order differs\n  expected {eo:?}\n  built    {oo:?}"
                ));
            }
            Outcome::Pass
        }
    }
}

#[test]
fn differential_against_kustomize() {
    let kustomize = keelson_testsupport::tool("kustomize");
    let known_text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/known-failures.txt"),
    )
    .unwrap();
    let known: BTreeMap<String, String> = known_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((case, reason)) => (case.to_string(), reason.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect();
    let cases = cases();
    assert!(
        cases.len() > 600,
        "corpus incomplete: {} cases",
        cases.len()
    );
    let filter = std::env::var("KEELSON_CASE").ok();
    let queue = Mutex::new(
        cases
            .iter()
            .filter(|(name, _)| filter.as_ref().is_none_or(|f| name.contains(f.as_str())))
            .collect::<Vec<_>>(),
    );
    let results = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some((name, dir)) = next else { break };
                    let outcome = run_case(&kustomize, dir);
                    results.lock().unwrap().push((name.clone(), outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let total = results.len();
    let passed = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Pass))
        .count();
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    let mut skipped = Vec::new();
    for (name, outcome) in &results {
        match (outcome, known.contains_key(name)) {
            (Outcome::Fail(why), false) => unexpected.push(format!("{name}: {why}")),
            (Outcome::Pass, true) => stale.push(name.clone()),
            (Outcome::Skip(why), _) => skipped.push(format!("{name}: {why}")),
            _ => {}
        }
    }
    let compared = total - skipped.len();
    println!(
        "kustomize differential: {passed}/{compared} cases equal to kustomize ({:.1} %), {} known failures, {} skipped",
        100.0 * passed as f64 / compared.max(1) as f64,
        compared - passed,
        skipped.len()
    );
    for s in &skipped {
        println!("SKIPPED {s}");
    }
    for u in &unexpected {
        println!("UNEXPECTED FAILURE {u}\n");
    }
    for s in &stale {
        println!("NOW PASSING (remove from known-failures.txt): {s}");
    }
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "{} unexpected failures, {} stale known failures",
        unexpected.len(),
        stale.len()
    );
}
