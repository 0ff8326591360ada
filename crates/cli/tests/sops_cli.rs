//! `keelson sops encrypt|decrypt` against the real `sops`: keys from flags and the environment,
//! `.sops.yaml` creation rules and store settings.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keelson-sops-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a command in `dir` with a clean sops environment plus `env`.
fn run(program: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_RECIPIENTS")
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("no-config"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn keygen(dir: &Path, name: &str) -> (String, String) {
    let file = dir.join(name);
    ok(
        run(
            &keelson_testsupport::tool("age-keygen"),
            dir,
            &["-o", file.to_str().unwrap()],
            &[],
        ),
        "age-keygen",
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (file.to_str().unwrap().to_string(), public)
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  password: hunter2 # keep me\n  list:\n    - a\n    - 2\n";

#[test]
fn encrypt_with_creation_rules_and_decrypt_like_sops() {
    let dir = tmp("rules");
    let keelson = PathBuf::from(env!("CARGO_BIN_EXE_keelson"));
    let sops = keelson_testsupport::tool("sops");
    let (key1, r1) = keygen(&dir, "k1.txt");
    let (key2, r2) = keygen(&dir, "k2.txt");
    std::fs::write(
        dir.join(".sops.yaml"),
        format!(
            "stores:\n  yaml:\n    indent: 2\ncreation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: >-\n      {r1},\n      {r2}\n  - path_regex: \\.env$\n    age: [{r2}]\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/app.yaml"), SECRET).unwrap();
    std::fs::write(dir.join("app.env"), "USER=admin\nPASSWORD=hunter2\n").unwrap();

    for file in ["secrets/app.yaml", "app.env"] {
        let ours = ok(
            run(&keelson, &dir, &["sops", "encrypt", file], &[]),
            "keelson sops encrypt",
        );
        let theirs = ok(run(&sops, &dir, &["--encrypt", file], &[]), "sops -e");
        let text = String::from_utf8(ours.clone()).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        if file.ends_with(".yaml") {
            assert!(
                text.contains("encrypted_regex: ^(data|stringData)$"),
                "{text}"
            );
            assert!(
                text.contains("  name: app"),
                "metadata stays in clear: {text}"
            );
            assert!(text.contains(&r1) && text.contains(&r2));
        } else {
            assert!(text.contains(&r2) && !text.contains(&r1));
        }
        let ext = Path::new(file).extension().unwrap().to_str().unwrap();
        std::fs::write(dir.join(format!("ours.{ext}")), &ours).unwrap();
        std::fs::write(dir.join(format!("theirs.{ext}")), &theirs).unwrap();
        let env = [("SOPS_AGE_KEY_FILE", key2.as_str())];
        let sops_of_ours = ok(
            run(&sops, &dir, &["-d", &format!("ours.{ext}")], &env),
            "sops -d ours",
        );
        let sops_of_theirs = ok(
            run(&sops, &dir, &["-d", &format!("theirs.{ext}")], &env),
            "sops -d theirs",
        );
        assert_eq!(
            String::from_utf8_lossy(&sops_of_ours),
            String::from_utf8_lossy(&sops_of_theirs)
        );
        let keelson_of_theirs = ok(
            run(
                &keelson,
                &dir,
                &["sops", "decrypt", &format!("theirs.{ext}")],
                &env,
            ),
            "keelson decrypt",
        );
        assert_eq!(
            String::from_utf8_lossy(&keelson_of_theirs),
            String::from_utf8_lossy(&sops_of_theirs)
        );
    }

    // Keys from SOPS_AGE_KEY and --age-key-file work the same.
    let key_text = std::fs::read_to_string(&key1).unwrap();
    let a = ok(
        run(
            &keelson,
            &dir,
            &["sops", "decrypt", "theirs.yaml"],
            &[("SOPS_AGE_KEY", key_text.as_str())],
        ),
        "decrypt with SOPS_AGE_KEY",
    );
    let b = ok(
        run(
            &keelson,
            &dir,
            &["sops", "decrypt", "--age-key-file", &key1, "theirs.yaml"],
            &[],
        ),
        "decrypt with --age-key-file",
    );
    assert_eq!(a, b);
    // As with sops, the encrypted line comment comes back as a comment line above its key.
    assert!(String::from_utf8_lossy(&a).contains("  # keep me\n  password: hunter2\n"));
}

#[test]
fn errors_are_clear_and_do_not_leak() {
    let dir = tmp("errors");
    let keelson = PathBuf::from(env!("CARGO_BIN_EXE_keelson"));
    let (_key1, r1) = keygen(&dir, "k1.txt");
    let (key2, _r2) = keygen(&dir, "k2.txt");
    std::fs::write(dir.join("s.yaml"), SECRET).unwrap();
    ok(
        run(
            &keelson,
            &dir,
            &["sops", "encrypt", "--age", &r1, "--in-place", "s.yaml"],
            &[],
        ),
        "encrypt -i",
    );
    let encrypted = std::fs::read_to_string(dir.join("s.yaml")).unwrap();
    assert!(encrypted.contains("sops:") && !encrypted.contains("hunter2"));

    let wrong = run(
        &keelson,
        &dir,
        &["sops", "decrypt", "s.yaml"],
        &[("SOPS_AGE_KEY_FILE", key2.as_str())],
    );
    assert_eq!(wrong.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("failed to decrypt s.yaml") && err.contains("none of the 1 age identities"),
        "{err}"
    );
    assert!(!err.contains("hunter2") && wrong.stdout.is_empty());

    let none = run(&keelson, &dir, &["sops", "decrypt", "s.yaml"], &[]);
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(
        err.contains("SOPS_AGE_KEY_FILE") && err.contains(&r1),
        "{err}"
    );

    let again = run(
        &keelson,
        &dir,
        &["sops", "encrypt", "--age", &r1, "s.yaml"],
        &[],
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("already encrypted"));
}
