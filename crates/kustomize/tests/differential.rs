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

fn key(v: &Value) -> (String, String, String, String) {
    let id = ObjectId::of(v);
    (id.api_version(), id.kind, id.namespace, id.name)
}

enum Outcome {
    Pass,
    Fail(String),
}

fn run_case(kustomize: &Path, dir: &Path) -> Outcome {
    let reference = Command::new(kustomize)
        .args(["build", "--load-restrictor", "LoadRestrictionsNone"])
        .arg(dir)
        .output()
        .unwrap();
    let ours = keelson_kustomize::build(
        &RealFs,
        dir,
        &Options {
            load_restrictor: LoadRestrictor::None,
        },
    );
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
                    return Outcome::Fail(format!(
                        "object {:?} differs\n--- kustomize\n{}--- keelson\n{}",
                        key(e),
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
    for (name, outcome) in &results {
        match (outcome, known.contains_key(name)) {
            (Outcome::Fail(why), false) => unexpected.push(format!("{name}: {why}")),
            (Outcome::Pass, true) => stale.push(name.clone()),
            _ => {}
        }
    }
    println!(
        "kustomize differential: {passed}/{total} cases equal to kustomize ({:.1} %), {} known failures",
        100.0 * passed as f64 / total.max(1) as f64,
        total - passed
    );
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
