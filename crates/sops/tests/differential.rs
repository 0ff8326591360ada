//! Differential tests against the real `sops` and `age-keygen` from the test environment.
//!
//! For every format and every encryption-rule option: files encrypted by sops (three age
//! recipients) decrypt with one of the keys to what `sops -d` prints; files keelson encrypts
//! decrypt with `sops -d` to what sops itself produces from the same input; tampering and wrong
//! keys are rejected with clear errors.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use keelson_sops::{EncryptSettings, Error, Format, Identities, Recipient, Rules, StoreOptions};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "keelson-sops-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Key {
    file: PathBuf,
    recipient: String,
    ids: Identities,
}

fn keygen(dir: &Path, name: &str) -> Key {
    let file = dir.join(format!("{name}.txt"));
    let out = Command::new(keelson_testsupport::tool("age-keygen"))
        .arg("-o")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let ids = Identities::parse(&text, name).unwrap();
    let recipient = ids.recipients()[0].clone();
    Key {
        file,
        recipient,
        ids,
    }
}

/// Runs sops in `dir` with the given key file; returns stdout, or stderr as the error.
fn sops(dir: &Path, key_file: Option<&Path>, args: &[&str]) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new(keelson_testsupport::tool("sops"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .env("HOME", dir);
    if let Some(k) = key_file {
        cmd.env("SOPS_AGE_KEY_FILE", k);
    }
    let out = cmd.output().unwrap();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn type_name(f: Format) -> &'static str {
    f.name()
}

/// Compares two outputs as objects (YAML/JSON parsed with serde-saphyr / serde_json, INI as
/// section maps) or exactly (dotenv, binary).
fn same_objects(format: Format, ours: &[u8], theirs: &[u8]) -> bool {
    match format {
        Format::Yaml => {
            let docs = |b: &[u8]| -> Vec<serde_json::Value> {
                String::from_utf8_lossy(b)
                    .split("\n---\n")
                    .map(|d| serde_saphyr::from_str::<serde_json::Value>(d).unwrap())
                    .collect()
            };
            docs(ours) == docs(theirs)
        }
        Format::Json => {
            serde_json::from_slice::<serde_json::Value>(ours).unwrap()
                == serde_json::from_slice::<serde_json::Value>(theirs).unwrap()
        }
        Format::Ini => {
            let parse = |b: &[u8]| {
                let t = keelson_sops::format::load_plain(b, Format::Ini).unwrap();
                keelson_sops::json::emit(&strip(&t.branches[0]), Some(0)).unwrap()
            };
            parse(ours) == parse(theirs)
        }
        Format::Dotenv | Format::Binary => ours == theirs,
    }
}

/// Drops comments, to compare INI sections as plain maps.
fn strip(b: &keelson_sops::tree::Branch) -> keelson_sops::tree::Branch {
    use keelson_sops::tree::{Branch, Item, Value};
    Branch(
        b.0.iter()
            .filter_map(|i| match i {
                Item::Entry(k, Value::Map(m)) => Some(Item::Entry(k.clone(), Value::Map(strip(m)))),
                Item::Entry(k, v) => Some(Item::Entry(k.clone(), v.clone())),
                Item::Comment(_) => None,
            })
            .collect(),
    )
}

const YAML: &str = r#"# A secret for the app
apiVersion: v1
kind: Secret
metadata:
  name: app # the name
  labels:
    tier: backend
  annotations:
    note: "quoted: yes"
type: Opaque
stringData:
  password: hunter2
  # the token
  token_secret: abc-123
  multiline: |
    line one
    line two
  empty: ""
data:
  port: 8080
  ratio: 0.75
  big: 1234567.0
  enabled: true
  nothing: null
  when: 2024-01-02
  list:
    - one
    - 2
    - nested: value
      other_plain: x
  plain_unencrypted: visible
  tricky: "a: b #c"
  unicode: "héllo ✓"
"#;

/// Comment placements that exercise sops' quirks: comments inside lists (stored as encrypted
/// list items), comments opening nested blocks and mapping items, line comments on collections.
const YAML_COMMENTS: &str = "# head\nl:\n  # before item\n  - a: 1\n    b: 2\n  # second\n  - c: 3 # inl\n  - x\n  # third\n  - # weird\n    d: 4\nserviceAccount:\n  # opens the block\n  create: true\n  # foot of block\n# head of next\nschema:\n  configs:\n    # lost by go-yaml\n    - from: \"2026-06-23\"  # adjust\n      store: tsdb\nextraEnv: {}\n  # - name: X\n\n# trailing\n";

const YAML_MULTI: &str = "a: 1\nsecret: s1\n---\nb: two\nsecret: s2\n";

const JSON: &str = r#"{
  "apiVersion": "v1",
  "data": {"password": "hunter2", "port": 8080, "ratio": 0.5, "on": false,
           "list": [1, "two", {"x": null}], "html": "<a&b>", "token_secret": "t"},
  "stringData": {"plain_unencrypted": "visible", "k": "v\nw"},
  "kind": "Secret"
}"#;

const DOTENV: &str = "# comment line\nUSER=admin\nPASSWORD=hunter2\nMULTI=a\\nb\ndata=x\nTOKEN_secret=tok\nNAME_plain_unencrypted=visible\nEMPTY=\n";

const INI: &str = "; top comment\n[database]\nuser = admin\npassword = hunter2\n\n[data]\ntoken_secret = abc\nkey_plain_unencrypted = visible\n";

fn binary_input() -> Vec<u8> {
    let mut b = b"binary\x00\xff\xfe data\nwith lines\n".to_vec();
    b.extend((0u8..=255).rev());
    b
}

struct Case {
    name: &'static str,
    sops_args: Vec<&'static str>,
    rules: Rules,
}

fn cases() -> Vec<Case> {
    let r = Rules::default;
    vec![
        Case {
            name: "default",
            sops_args: vec![],
            rules: r(),
        },
        Case {
            name: "encrypted_regex",
            sops_args: vec!["--encrypted-regex", "^(data|stringData|password|PASSWORD)$"],
            rules: Rules {
                encrypted_regex: Some("^(data|stringData|password|PASSWORD)$".into()),
                ..r()
            },
        },
        Case {
            name: "unencrypted_regex",
            sops_args: vec![
                "--unencrypted-regex",
                "^(kind|apiVersion|metadata|USER|user)$",
            ],
            rules: Rules {
                unencrypted_regex: Some("^(kind|apiVersion|metadata|USER|user)$".into()),
                ..r()
            },
        },
        Case {
            name: "encrypted_suffix",
            sops_args: vec!["--encrypted-suffix", "_secret"],
            rules: Rules {
                encrypted_suffix: Some("_secret".into()),
                ..r()
            },
        },
        Case {
            name: "unencrypted_suffix",
            sops_args: vec!["--unencrypted-suffix", "_plain_unencrypted"],
            rules: Rules {
                unencrypted_suffix: Some("_plain_unencrypted".into()),
                ..r()
            },
        },
        Case {
            name: "mac_only_encrypted",
            sops_args: vec![
                "--encrypted-regex",
                "^(data|password|PASSWORD)$",
                "--mac-only-encrypted",
            ],
            rules: Rules {
                encrypted_regex: Some("^(data|password|PASSWORD)$".into()),
                mac_only_encrypted: true,
                ..r()
            },
        },
    ]
}

fn inputs() -> Vec<(Format, &'static str, Vec<u8>)> {
    vec![
        (Format::Yaml, "secret.yaml", YAML.as_bytes().to_vec()),
        (Format::Yaml, "multi.yaml", YAML_MULTI.as_bytes().to_vec()),
        (
            Format::Yaml,
            "comments.yaml",
            YAML_COMMENTS.as_bytes().to_vec(),
        ),
        (Format::Json, "secret.json", JSON.as_bytes().to_vec()),
        (Format::Dotenv, "secret.env", DOTENV.as_bytes().to_vec()),
        (Format::Ini, "secret.ini", INI.as_bytes().to_vec()),
        (Format::Binary, "secret.bin", binary_input()),
    ]
}

#[test]
fn sops_encrypted_files_decrypt_like_sops() {
    let tmp = TempDir::new("dec");
    let k1 = keygen(&tmp.0, "k1");
    let k2 = keygen(&tmp.0, "k2");
    let k3 = keygen(&tmp.0, "k3");
    let recipients = format!("{},{},{}", k1.recipient, k2.recipient, k3.recipient);
    let (mut total, mut equal_objects, mut equal_bytes) = (0, 0, 0);
    let mut byte_diffs = Vec::new();
    for (format, file, input) in inputs() {
        for case in cases() {
            let path = tmp.0.join(file);
            std::fs::write(&path, &input).unwrap();
            let t = type_name(format);
            let mut args = vec![
                "--encrypt",
                "--input-type",
                t,
                "--output-type",
                t,
                "--age",
                &recipients,
            ];
            args.extend(case.sops_args.iter().copied());
            args.push(file);
            let encrypted = sops(&tmp.0, None, &args)
                .unwrap_or_else(|e| panic!("sops -e {file} ({}): {e}", case.name));
            let enc_path = tmp.0.join(format!("enc-{file}"));
            std::fs::write(&enc_path, &encrypted).unwrap();
            let enc_name = format!("enc-{file}");
            let reference = sops(
                &tmp.0,
                Some(&k3.file),
                &[
                    "--decrypt",
                    "--input-type",
                    t,
                    "--output-type",
                    t,
                    &enc_name,
                ],
            )
            .unwrap_or_else(|e| panic!("sops -d {file} ({}): {e}", case.name));
            let ours = keelson_sops::decrypt(&encrypted, format, &k2.ids, &StoreOptions::default())
                .unwrap_or_else(|e| panic!("keelson decrypt {file} ({}): {e}", case.name));
            total += 1;
            assert!(
                same_objects(format, &ours, &reference),
                "{file} ({}): objects differ\n--- ours\n{}\n--- sops\n{}",
                case.name,
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&reference)
            );
            equal_objects += 1;
            if ours == reference {
                equal_bytes += 1;
            } else {
                byte_diffs.push(format!(
                    "{file} ({}):\n--- ours\n{}\n--- sops\n{}",
                    case.name,
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&reference)
                ));
            }
        }
    }
    eprintln!(
        "sops-encrypted → keelson-decrypted: {equal_objects}/{total} equal as objects, {equal_bytes}/{total} byte-identical"
    );
    for d in &byte_diffs {
        eprintln!("{d}");
    }
    // Beyond equal objects, the output is byte-identical to sops -d for these inputs.
    assert!(
        byte_diffs.is_empty(),
        "{} outputs differ from sops -d in bytes",
        byte_diffs.len()
    );
}

#[test]
fn keelson_encrypted_files_decrypt_with_sops() {
    let tmp = TempDir::new("enc");
    let k1 = keygen(&tmp.0, "k1");
    let k2 = keygen(&tmp.0, "k2");
    let recipients = vec![
        Recipient::parse(&k1.recipient).unwrap(),
        Recipient::parse(&k2.recipient).unwrap(),
    ];
    let mut total = 0;
    for (format, file, input) in inputs() {
        for case in cases() {
            let t = type_name(format);
            let settings = EncryptSettings {
                rules: case.rules.clone(),
                ..EncryptSettings::new(recipients.clone())
            };
            let ours = keelson_sops::encrypt(&input, format, &settings, &StoreOptions::default())
                .unwrap_or_else(|e| panic!("keelson encrypt {file} ({}): {e}", case.name));
            let name = format!("ours-{file}");
            std::fs::write(tmp.0.join(&name), &ours).unwrap();
            let by_sops = sops(
                &tmp.0,
                Some(&k2.file),
                &["--decrypt", "--input-type", t, "--output-type", t, &name],
            )
            .unwrap_or_else(|e| {
                panic!(
                    "sops -d of keelson's {file} ({}) failed: {e}\n{}",
                    case.name,
                    String::from_utf8_lossy(&ours)
                )
            });
            // What sops prints for the plain input (a sops round trip of the same input).
            std::fs::write(tmp.0.join(file), &input).unwrap();
            let mut args = vec![
                "--encrypt",
                "--input-type",
                t,
                "--output-type",
                t,
                "--age",
                &k1.recipient,
            ];
            args.extend(case.sops_args.iter().copied());
            args.push(file);
            let theirs_enc = sops(&tmp.0, None, &args).unwrap();
            let theirs_name = format!("theirs-{file}");
            std::fs::write(tmp.0.join(&theirs_name), &theirs_enc).unwrap();
            let reference = sops(
                &tmp.0,
                Some(&k1.file),
                &[
                    "--decrypt",
                    "--input-type",
                    t,
                    "--output-type",
                    t,
                    &theirs_name,
                ],
            )
            .unwrap();
            assert!(
                same_objects(format, &by_sops, &reference),
                "{file} ({}): sops -d of keelson's file differs\n--- sops -d ours\n{}\n--- sops -d theirs\n{}",
                case.name,
                String::from_utf8_lossy(&by_sops),
                String::from_utf8_lossy(&reference)
            );
            // The encrypted files look the same apart from random parts: same keys, same
            // encrypted/clear split.
            if format == Format::Yaml || format == Format::Json {
                assert_eq!(
                    count_enc(&ours),
                    count_enc(&theirs_enc),
                    "{file} ({}): keelson encrypted a different set of values\n{}\n{}",
                    case.name,
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&theirs_enc)
                );
            }
            total += 1;
        }
    }
    eprintln!("keelson-encrypted → sops -d: {total}/{total} equal as objects");
}

/// Number of encrypted values (`ENC[`), the MAC included.
fn count_enc(b: &[u8]) -> usize {
    String::from_utf8_lossy(b).matches("ENC[").count()
}

#[test]
fn key_groups_with_shamir_threshold() {
    let tmp = TempDir::new("shamir");
    let k1 = keygen(&tmp.0, "k1");
    let k2 = keygen(&tmp.0, "k2");
    let k3 = keygen(&tmp.0, "k3");
    std::fs::write(
        tmp.0.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]\n",
            k1.recipient, k2.recipient, k3.recipient
        ),
    )
    .unwrap();
    std::fs::write(tmp.0.join("s.yaml"), YAML).unwrap();
    let enc = sops(&tmp.0, None, &["--encrypt", "s.yaml"]).unwrap();
    assert!(String::from_utf8_lossy(&enc).contains("shamir_threshold: 2"));
    let mut two = k1.ids.clone();
    two.extend(k3.ids.clone());
    std::fs::write(tmp.0.join("enc.yaml"), &enc).unwrap();
    let both = tmp.0.join("both.txt");
    std::fs::write(
        &both,
        format!(
            "{}\n{}",
            std::fs::read_to_string(&k1.file).unwrap(),
            std::fs::read_to_string(&k3.file).unwrap()
        ),
    )
    .unwrap();
    let reference = sops(&tmp.0, Some(&both), &["--decrypt", "enc.yaml"]).unwrap();
    let ours = keelson_sops::decrypt(&enc, Format::Yaml, &two, &StoreOptions::default()).unwrap();
    assert_eq!(ours, reference);
    // One group is below the threshold, for sops and for us.
    assert!(sops(&tmp.0, Some(&k1.file), &["--decrypt", "enc.yaml"]).is_err());
    let err =
        keelson_sops::decrypt(&enc, Format::Yaml, &k1.ids, &StoreOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::ShamirThreshold { got: 1, need: 2 }),
        "{err}"
    );

    // keelson's own Shamir encryption opens with sops.
    let config = keelson_sops::config::Config::parse(
        &std::fs::read_to_string(tmp.0.join(".sops.yaml")).unwrap(),
    )
    .unwrap();
    let settings = config.settings_for("s.yaml").unwrap();
    let ours = keelson_sops::encrypt(
        YAML.as_bytes(),
        Format::Yaml,
        &settings,
        &StoreOptions::default(),
    )
    .unwrap();
    std::fs::write(tmp.0.join("ours.yaml"), &ours).unwrap();
    let by_sops = sops(&tmp.0, Some(&both), &["--decrypt", "ours.yaml"]).unwrap();
    assert_eq!(by_sops, reference);
}

fn tamper(text: &str, needle: &str) -> String {
    // Flip one base64 character of the data field following `needle`.
    let start = text.find(needle).unwrap();
    let data = start + text[start..].find("data:").unwrap() + 5;
    let mut bytes = text.as_bytes().to_vec();
    bytes[data] = if bytes[data] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn tampering_and_wrong_keys_are_rejected() {
    let tmp = TempDir::new("tamper");
    let k1 = keygen(&tmp.0, "k1");
    let k2 = keygen(&tmp.0, "k2");
    std::fs::write(tmp.0.join("s.yaml"), YAML).unwrap();
    let enc = sops(
        &tmp.0,
        None,
        &["--encrypt", "--age", &k1.recipient, "s.yaml"],
    )
    .unwrap();
    let enc = String::from_utf8(enc).unwrap();
    let opts = StoreOptions::default();

    // A tampered value: authentication of that value fails (and sops fails too).
    let bad_value = tamper(&enc, "password:");
    let err =
        keelson_sops::decrypt(bad_value.as_bytes(), Format::Yaml, &k1.ids, &opts).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("stringData.password"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    std::fs::write(tmp.0.join("bad.yaml"), &bad_value).unwrap();
    assert!(sops(&tmp.0, Some(&k1.file), &["--decrypt", "bad.yaml"]).is_err());

    // A tampered MAC.
    let bad_mac = tamper(&enc, "mac: ENC");
    let err = keelson_sops::decrypt(bad_mac.as_bytes(), Format::Yaml, &k1.ids, &opts).unwrap_err();
    assert!(matches!(err, Error::Mac(_)), "{err}");

    // A changed clear value (not encrypted, but covered by the MAC).
    let changed = enc.replace("plain_unencrypted: visible", "plain_unencrypted: changed");
    assert_ne!(changed, enc);
    let err = keelson_sops::decrypt(changed.as_bytes(), Format::Yaml, &k1.ids, &opts).unwrap_err();
    assert!(matches!(err, Error::MacMismatch), "{err}");
    std::fs::write(tmp.0.join("changed.yaml"), &changed).unwrap();
    let sops_err = sops(&tmp.0, Some(&k1.file), &["--decrypt", "changed.yaml"]).unwrap_err();
    assert!(sops_err.contains("MAC"), "{sops_err}");

    // Two values swapped: each decrypts only at its own path.
    let swapped = {
        let line = |key: &str| {
            enc.lines()
                .find(|l| l.trim_start().starts_with(key))
                .unwrap()
                .to_string()
        };
        let (a, b) = (line("password:"), line("token_secret:"));
        let va = a.split_once(": ").unwrap().1.to_string();
        let vb = b.split_once(": ").unwrap().1.to_string();
        enc.replace(&a, &a.replace(&va, &vb))
            .replace(&b, &b.replace(&vb, &va))
    };
    assert!(keelson_sops::decrypt(swapped.as_bytes(), Format::Yaml, &k1.ids, &opts).is_err());

    // Wrong key, no key.
    let err = keelson_sops::decrypt(enc.as_bytes(), Format::Yaml, &k2.ids, &opts).unwrap_err();
    assert!(
        matches!(err, Error::NoMatchingKey { count: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&k1.recipient));
    let err =
        keelson_sops::decrypt(enc.as_bytes(), Format::Yaml, &Identities::new(), &opts).unwrap_err();
    assert!(matches!(err, Error::NoIdentities { .. }), "{err}");
    // Not a sops file.
    let err = keelson_sops::decrypt(YAML.as_bytes(), Format::Yaml, &k1.ids, &opts).unwrap_err();
    assert!(err.to_string().contains("metadata not found"), "{err}");
}

#[test]
fn yaml_indent_from_sops_config_matches() {
    let tmp = TempDir::new("indent");
    let k1 = keygen(&tmp.0, "k1");
    std::fs::write(
        tmp.0.join(".sops.yaml"),
        "stores:\n  yaml:\n    indent: 2\n  json:\n    indent: 2\n",
    )
    .unwrap();
    std::fs::write(tmp.0.join("s.yaml"), YAML).unwrap();
    std::fs::write(tmp.0.join("s.json"), JSON).unwrap();
    let config = keelson_sops::config::Config::parse(
        &std::fs::read_to_string(tmp.0.join(".sops.yaml")).unwrap(),
    )
    .unwrap();
    for (file, format) in [("s.yaml", Format::Yaml), ("s.json", Format::Json)] {
        let enc = sops(&tmp.0, None, &["--encrypt", "--age", &k1.recipient, file]).unwrap();
        std::fs::write(tmp.0.join("enc"), &enc).unwrap();
        let t = format.name();
        let reference = sops(
            &tmp.0,
            Some(&k1.file),
            &["--decrypt", "--input-type", t, "--output-type", t, "enc"],
        )
        .unwrap();
        let ours = keelson_sops::decrypt(&enc, format, &k1.ids, &config.stores).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&reference)
        );
    }
}

#[test]
fn comment_regex_rules_from_creation_rules() {
    let tmp = TempDir::new("comment-regex");
    let k1 = keygen(&tmp.0, "k1");
    let config_text = format!(
        "creation_rules:\n  - path_regex: enc\\.yaml$\n    encrypted_comment_regex: sops:enc\n    age: {r}\n  - path_regex: unenc\\.yaml$\n    unencrypted_comment_regex: sops:plain\n    age: {r}\n",
        r = k1.recipient
    );
    std::fs::write(tmp.0.join(".sops.yaml"), &config_text).unwrap();
    let config = keelson_sops::config::Config::parse(&config_text).unwrap();
    let plain =
        "a: 1\n# sops:enc\nb: secret\nc: clear\nlist:\n  # sops:enc\n  - x\n  - y\n# other\nd: 2\n";
    for (file, text) in [
        ("enc.yaml", plain.to_string()),
        ("unenc.yaml", plain.replace("sops:enc", "sops:plain")),
    ] {
        std::fs::write(tmp.0.join(file), &text).unwrap();
        let theirs = sops(&tmp.0, None, &["--encrypt", file]).unwrap();
        std::fs::write(tmp.0.join("theirs.yaml"), &theirs).unwrap();
        let reference = sops(&tmp.0, Some(&k1.file), &["--decrypt", "theirs.yaml"]).unwrap();
        let ours_plain =
            keelson_sops::decrypt(&theirs, Format::Yaml, &k1.ids, &StoreOptions::default())
                .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours_plain),
            String::from_utf8_lossy(&reference),
            "{file}"
        );
        let settings = config.settings_for(file).unwrap();
        let ours = keelson_sops::encrypt(
            text.as_bytes(),
            Format::Yaml,
            &settings,
            &StoreOptions::default(),
        )
        .unwrap();
        // Same values encrypted as sops chose.
        let mask = |b: &[u8]| {
            let s = String::from_utf8_lossy(b).into_owned();
            let end = s.find("\nsops:").unwrap();
            let mut out = String::new();
            let mut rest = &s[..end];
            while let Some(i) = rest.find("ENC[") {
                out.push_str(&rest[..i]);
                out.push('X');
                rest = &rest[i + rest[i..].find(']').unwrap() + 1..];
            }
            out.push_str(rest);
            out
        };
        assert_eq!(mask(&ours), mask(&theirs), "{file}");
        std::fs::write(tmp.0.join("ours.yaml"), &ours).unwrap();
        let by_sops = sops(&tmp.0, Some(&k1.file), &["--decrypt", "ours.yaml"]).unwrap();
        assert_eq!(by_sops, reference, "{file}");
    }
}
