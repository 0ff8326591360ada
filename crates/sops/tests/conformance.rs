//! Conformance over real-world YAML: a sample of the shared corpus (Flux repositories, kustomize
//! cases, Helm chart values) encrypted by `sops` must decrypt with keelson to exactly what
//! `sops -d` prints, and encrypted by keelson must decrypt with `sops -d` to the same text. Files
//! sops refuses must be refused by keelson too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use keelson_sops::{EncryptSettings, Format, Identities, Recipient, StoreOptions};

/// One file in this many is taken, to keep this test to seconds; set
/// `KEELSON_SOPS_CONFORMANCE_EVERY=1` to sweep the whole corpus (minutes).
const SAMPLE_EVERY: usize = 24;

fn sample_every() -> usize {
    std::env::var("KEELSON_SOPS_CONFORMANCE_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(SAMPLE_EVERY)
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "templates") {
                yaml_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml")
            && e.metadata().is_ok_and(|m| m.len() < 64 * 1024)
        {
            out.push(p);
        }
    }
}

fn sops(dir: &Path, key: Option<&Path>, args: &[&str]) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new(keelson_testsupport::tool("sops"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("none"));
    if let Some(k) = key {
        cmd.env("SOPS_AGE_KEY_FILE", k);
    }
    let out = cmd.output().unwrap();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn corpus_yaml_round_trips_like_sops() {
    let corpus = keelson_testsupport::shared_dir().join("corpus");
    let mut files = Vec::new();
    yaml_files(&corpus, &mut files);
    files.sort();
    let dir = std::env::temp_dir().join(format!("keelson-sops-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("key.txt");
    let out = Command::new(keelson_testsupport::tool("age-keygen"))
        .arg("-o")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let ids = Identities::parse(&std::fs::read_to_string(&key_file).unwrap(), "key").unwrap();
    let recipient = ids.recipients()[0].clone();
    let settings = EncryptSettings::new(vec![Recipient::parse(&recipient).unwrap()]);
    let opts = StoreOptions::default();
    let (mut total, mut refused, mut failures) = (0, 0, Vec::new());
    for file in files.iter().step_by(sample_every()) {
        let input = std::fs::read(file).unwrap();
        let name = file.strip_prefix(&corpus).unwrap().display().to_string();
        std::fs::write(dir.join("in.yaml"), &input).unwrap();
        let theirs = sops(&dir, None, &["--encrypt", "--age", &recipient, "in.yaml"]);
        let ours = keelson_sops::encrypt(&input, Format::Yaml, &settings, &opts);
        let Ok(theirs) = theirs else {
            assert!(
                ours.is_err(),
                "{name}: sops refuses to encrypt it, keelson accepts it"
            );
            refused += 1;
            continue;
        };
        total += 1;
        std::fs::write(dir.join("theirs.yaml"), &theirs).unwrap();
        let reference = sops(&dir, Some(&key_file), &["--decrypt", "theirs.yaml"]).unwrap();
        match keelson_sops::decrypt(&theirs, Format::Yaml, &ids, &opts) {
            Ok(plain) if plain == reference => {}
            Ok(_) => failures.push(format!("{name}: decrypted text differs from sops -d")),
            Err(e) => failures.push(format!("{name}: keelson cannot decrypt sops' file: {e}")),
        }
        match ours {
            Ok(ours) => {
                std::fs::write(dir.join("ours.yaml"), &ours).unwrap();
                match sops(&dir, Some(&key_file), &["--decrypt", "ours.yaml"]) {
                    Ok(plain) if plain == reference => {}
                    Ok(_) => failures.push(format!("{name}: sops -d of keelson's file differs")),
                    Err(e) => {
                        failures.push(format!("{name}: sops cannot decrypt keelson's file: {e}"))
                    }
                }
            }
            Err(e) => failures.push(format!("{name}: keelson cannot encrypt: {e}")),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "corpus sample: {total} files, {} byte-identical both ways, {refused} refused by both",
        total - failures.len()
    );
    assert!(total > 50, "too few corpus files sampled ({total})");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
