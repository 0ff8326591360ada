//! Repository hygiene around secrets: Kubernetes Secrets committed in plain text, SOPS files
//! with values left unencrypted, and a `.gitignore` that lets age keys, kubeconfigs or
//! Terraform state be committed.

use std::path::Path;

use keelson_manifest::str_at;
use regex::Regex;
use serde_json::Value;

use crate::finding::{Category, Finding, Location, Severity};
use crate::repo::{Origin, Repo};

/// The checks of this module over the whole repository.
pub fn check(repo: &Repo, out: &mut Vec<Finding>) {
    let mut files: Vec<&std::path::PathBuf> = repo.yaml.keys().collect();
    files.sort();
    for rel in files {
        let file = &repo.yaml[rel];
        for (i, doc) in file.docs.iter().enumerate() {
            let origin = Origin {
                file: rel.clone(),
                doc: i,
            };
            match doc.value.get("sops") {
                Some(meta) if meta.is_object() => {
                    sops_document(repo, &origin, &doc.value, meta, out)
                }
                _ => plaintext_secret(repo, &origin, &doc.value, out),
            }
        }
    }
    for rel in &repo.files {
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".json") || name.ends_with(".env") {
            sops_other(repo, rel, out);
        }
    }
    gitignore(repo, out);
}

/// Whether a Secret value is a whole SOPS-encrypted file (base64-encoded under `data`): it
/// holds SOPS metadata and encrypted values.
fn sops_file_value(field: &str, value: &str) -> bool {
    use base64::Engine as _;
    let text = if field == "data" {
        match base64::engine::general_purpose::STANDARD.decode(value.trim()) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => return false,
        }
    } else {
        value.to_string()
    };
    text.contains("ENC[AES256_GCM,") && (text.contains("\"sops\"") || text.contains("sops:"))
}

/// A value built from postBuild variables (`${SECRET_RESTIC_PWD}`,
/// `s3:${SECRET_S3_ENDPOINT}/restic/${APP}`): filled in at deploy time, its literal rest too
/// short to hold a secret (no run of 12 letters or digits).
fn templated(value: &str) -> bool {
    let mut rest = String::new();
    let mut found = false;
    let mut tail = value;
    while let Some(start) = tail.find("${") {
        let Some(len) = tail[start..].find('}') else {
            break;
        };
        found = true;
        rest.push_str(&tail[..start]);
        rest.push(' ');
        tail = &tail[start + len + 1..];
    }
    rest.push_str(tail);
    found
        && rest
            .split(|c: char| !c.is_ascii_alphanumeric())
            .all(|run| run.len() < 12)
}

/// Prefixes of values that an injector replaces with the secret at deploy time: 1Password's
/// secret references (`op://vault/item/field`, read by its Kubernetes injector and operator),
/// Bank-Vaults' webhook (`vault:secret/data/app#key`), vals (`ref+vault://…`) and
/// argocd-vault-plugin placeholders (`<path:…#key>`).
const REFERENCE_PREFIXES: &[&str] = &["op://", "vault:", "ref+", "<path:"];

/// Whether a Secret value is a reference to a secret kept elsewhere (base64-decoded under
/// `data`).
fn secret_reference(field: &str, value: &str) -> bool {
    use base64::Engine as _;
    let decoded;
    let text = if field == "data" {
        match base64::engine::general_purpose::STANDARD.decode(value.trim()) {
            Ok(bytes) => {
                decoded = String::from_utf8_lossy(&bytes).into_owned();
                decoded.as_str()
            }
            Err(_) => return false,
        }
    } else {
        value
    };
    let text = text.trim();
    REFERENCE_PREFIXES.iter().any(|p| text.starts_with(p)) && !text.contains(char::is_whitespace)
}

/// A `kind: Secret` with data and no SOPS metadata.
fn plaintext_secret(repo: &Repo, origin: &Origin, doc: &Value, out: &mut Vec<Finding>) {
    if str_at(doc, &["kind"]) != "Secret" || str_at(doc, &["apiVersion"]) != "v1" {
        return;
    }
    for field in ["data", "stringData"] {
        let Some(map) = doc.get(field).and_then(Value::as_object) else {
            continue;
        };
        // Values that are all substitution variables are filled in at deploy time; values
        // that are whole SOPS-encrypted files are decrypted by Flux (kustomize-controller
        // decrypts a Secret's data entries that are SOPS documents).
        let literal = map.values().any(|v| {
            v.as_str().is_some_and(|s| {
                !(s.is_empty()
                    || templated(s)
                    || sops_file_value(field, s)
                    || secret_reference(field, s))
            })
        });
        if literal {
            let name = str_at(doc, &["metadata", "name"]);
            out.push(
                Finding::new(
                    Category::Secret,
                    Severity::Error,
                    "secret/unencrypted-secret",
                    repo.location(origin, &format!("/{field}")),
                    format!("Secret {name} holds {field} in plain text (not SOPS-encrypted)"),
                )
                .with_object(format!("Secret/{name}")),
            );
            return;
        }
    }
}

/// Every value a SOPS document should have encrypted is `ENC[...]`.
fn sops_document(repo: &Repo, origin: &Origin, doc: &Value, meta: &Value, out: &mut Vec<Finding>) {
    let rules = SopsRules::from_meta(meta);
    let mut plain = Vec::new();
    if let Some(map) = doc.as_object() {
        for (k, v) in map {
            if k == "sops" {
                continue;
            }
            let pointer = format!("/{}", crate::yamlpos::escape(k));
            walk(v, &pointer, rules.encrypted(k, false), &rules, &mut plain);
        }
    }
    if let Some(pointer) = plain.first() {
        out.push(Finding::new(
            Category::Secret,
            Severity::Error,
            "secret/sops-not-fully-encrypted",
            repo.location(origin, pointer),
            format!(
                "SOPS file has {} value(s) in plain text that its rules say to encrypt (first at {pointer})",
                plain.len()
            ),
        ));
    }
}

fn walk(v: &Value, pointer: &str, encrypt: bool, rules: &SopsRules, plain: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{pointer}/{}", crate::yamlpos::escape(k));
                walk(child, &p, rules.encrypted(k, encrypt), rules, plain);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, &format!("{pointer}/{i}"), encrypt, rules, plain);
            }
        }
        Value::String(s) if encrypt && !s.starts_with("ENC[") && !s.is_empty() => {
            plain.push(pointer.to_string())
        }
        Value::Number(_) | Value::Bool(_) if encrypt => plain.push(pointer.to_string()),
        _ => {}
    }
}

/// Which keys a SOPS file encrypts (sops' `unencrypted_suffix`, `encrypted_suffix`,
/// `unencrypted_regex`, `encrypted_regex`).
struct SopsRules {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<Regex>,
    encrypted_regex: Option<Regex>,
}

impl SopsRules {
    fn from_meta(meta: &Value) -> SopsRules {
        let s = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
        let re = |k: &str| s(k).and_then(|r| Regex::new(&r).ok());
        let any = ["encrypted_suffix", "unencrypted_regex", "encrypted_regex"]
            .iter()
            .any(|k| s(k).is_some());
        SopsRules {
            unencrypted_suffix: s("unencrypted_suffix")
                .or_else(|| (!any).then(|| "_unencrypted".to_string())),
            encrypted_suffix: s("encrypted_suffix"),
            unencrypted_regex: re("unencrypted_regex"),
            encrypted_regex: re("encrypted_regex"),
        }
    }

    /// Whether values under key `k` are encrypted, given whether the parent's are.
    fn encrypted(&self, k: &str, parent: bool) -> bool {
        if parent {
            return true;
        }
        if let Some(suffix) = &self.unencrypted_suffix {
            return !k.ends_with(suffix.as_str());
        }
        if let Some(suffix) = &self.encrypted_suffix {
            return k.ends_with(suffix.as_str());
        }
        if let Some(re) = &self.unencrypted_regex {
            return !re.is_match(k);
        }
        if let Some(re) = &self.encrypted_regex {
            return re.is_match(k);
        }
        true
    }
}

/// SOPS-encrypted JSON and dotenv files.
fn sops_other(repo: &Repo, rel: &Path, out: &mut Vec<Finding>) {
    let Ok(text) = std::fs::read_to_string(repo.root.join(rel)) else {
        return;
    };
    let is_env = rel.extension().is_some_and(|e| e == "env");
    if is_env {
        if !text.lines().any(|l| l.starts_with("sops_mac=")) {
            return;
        }
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("sops_") {
                continue;
            }
            if let Some((k, v)) = line.split_once('=')
                && !v.starts_with("ENC[")
                && !k.ends_with("_unencrypted")
            {
                out.push(Finding::new(
                    Category::Secret,
                    Severity::Error,
                    "secret/sops-not-fully-encrypted",
                    Location::new(rel, n + 1),
                    format!("SOPS dotenv file has {k} in plain text"),
                ));
                return;
            }
        }
        return;
    }
    let Ok(doc) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    let Some(meta) = doc.get("sops").filter(|m| m.is_object()) else {
        return;
    };
    let rules = SopsRules::from_meta(meta);
    let mut plain = Vec::new();
    if let Some(map) = doc.as_object() {
        for (k, v) in map.iter().filter(|(k, _)| *k != "sops") {
            walk(
                v,
                &format!("/{k}"),
                rules.encrypted(k, false),
                &rules,
                &mut plain,
            );
        }
    }
    if let Some(pointer) = plain.first() {
        let key = pointer.rsplit('/').next().unwrap_or("");
        let line = text
            .lines()
            .position(|l| l.contains(&format!("\"{key}\"")))
            .map_or(0, |n| n + 1);
        out.push(Finding::new(
            Category::Secret,
            Severity::Error,
            "secret/sops-not-fully-encrypted",
            Location::new(rel, line),
            format!(
                "SOPS file has {} value(s) in plain text (first at {pointer})",
                plain.len()
            ),
        ));
    }
}

/// Sample paths `.gitignore` must ignore, with what they stand for.
const MUST_IGNORE: &[(&str, &str)] = &[
    ("age.agekey", "age keys (*.agekey)"),
    ("kubeconfig", "kubeconfigs (kubeconfig)"),
    ("terraform.tfstate", "Terraform state (*.tfstate)"),
];

/// The repository's `.gitignore` keeps age keys, kubeconfigs and Terraform state out, and no
/// such file is committed.
fn gitignore(repo: &Repo, out: &mut Vec<Finding>) {
    let mut builder = ignore::gitignore::GitignoreBuilder::new(&repo.root);
    let path = repo.root.join(".gitignore");
    let exists = path.is_file();
    if exists {
        let _ = builder.add(&path);
    }
    let Ok(gi) = builder.build() else { return };
    let missing: Vec<&str> = MUST_IGNORE
        .iter()
        .filter(|(p, _)| !gi.matched(p, false).is_ignore())
        .map(|(_, what)| *what)
        .collect();
    if !missing.is_empty() {
        out.push(Finding::new(
            Category::Secret,
            Severity::Warning,
            "secret/gitignore-incomplete",
            Location::new(".gitignore", 0),
            format!(
                "{} does not ignore {}",
                if exists {
                    ".gitignore"
                } else {
                    "the repository has no .gitignore and"
                },
                missing.join(", ")
            ),
        ));
    }
    for rel in &repo.files {
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let what = if name.ends_with(".agekey") {
            "an age key"
        } else if name.ends_with(".tfstate") || name.ends_with(".tfstate.backup") {
            "Terraform state"
        } else if name == "kubeconfig" || name.ends_with(".kubeconfig") {
            "a kubeconfig"
        } else {
            continue;
        };
        out.push(Finding::new(
            Category::Secret,
            Severity::Error,
            "secret/sensitive-file",
            Location::new(rel, 0),
            format!("{} is {what} and must not be committed", rel.display()),
        ));
    }
}
