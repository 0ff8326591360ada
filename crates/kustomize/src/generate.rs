//! `configMapGenerator` and `secretGenerator`, and kustomize's content hash for their names.

use std::path::Path;

use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::build::{Accumulator, Builder, add_generated};
use crate::error::Error;
use crate::kustomization::{GeneratorArgs, GeneratorOptions, Kustomization};
use crate::resource::{Behavior, Resource};

pub(crate) fn run(
    b: &mut Builder<'_>,
    acc: &mut Accumulator,
    dir: &Path,
    kfile: &Path,
    k: &Kustomization,
) -> Result<(), Error> {
    for args in &k.config_map_generator {
        let res = generate(b, dir, kfile, args, k.generator_options.as_ref(), false)?;
        add_generated(acc, res, kfile)?;
    }
    for args in &k.secret_generator {
        let res = generate(b, dir, kfile, args, k.generator_options.as_ref(), true)?;
        add_generated(acc, res, kfile)?;
    }
    crate::plugins::run_generators(b, acc, dir, kfile, &k.generators)?;
    Ok(())
}

/// Merges global generator options into a generator's own (the generator's win).
fn merge_options(
    global: Option<&GeneratorOptions>,
    local: Option<&GeneratorOptions>,
) -> GeneratorOptions {
    let mut out = global.cloned().unwrap_or_default();
    if let Some(local) = local {
        for (k, v) in &local.labels {
            set_pair(&mut out.labels, k, v);
        }
        for (k, v) in &local.annotations {
            set_pair(&mut out.annotations, k, v);
        }
        out.disable_name_suffix_hash |= local.disable_name_suffix_hash;
        out.immutable |= local.immutable;
    }
    out
}

fn set_pair(list: &mut Vec<(String, String)>, k: &str, v: &str) {
    match list.iter_mut().find(|(key, _)| key == k) {
        Some(entry) => entry.1 = v.to_string(),
        None => list.push((k.to_string(), v.to_string())),
    }
}

fn generate(
    b: &Builder<'_>,
    dir: &Path,
    kfile: &Path,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    secret: bool,
) -> Result<Resource, Error> {
    let err = |m: String| Error::invalid(kfile, m);
    if args.name.is_empty() {
        return Err(err("a generator needs a name".into()));
    }
    let behavior = match args.behavior.as_str() {
        "" | "create" => Behavior::Create,
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        other => return Err(err(format!("unknown generator behavior {other:?}"))),
    };
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut push = |key: String, value: Vec<u8>| -> Result<(), Error> {
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(Error::invalid(
                kfile,
                format!(
                    "generator {}: cannot add key {key}, another key by that name already exists",
                    args.name
                ),
            ));
        }
        pairs.push((key, value));
        Ok(())
    };
    let mut envs = args.envs.clone();
    if !args.env.is_empty() {
        envs.push(args.env.clone());
    }
    for env in &envs {
        let path = b.file_path(dir, env)?;
        let text = b.read_text(&path)?;
        for (k, v) in parse_env(&text).map_err(|m| Error::invalid(&path, m))? {
            push(k, v.into_bytes())?;
        }
    }
    for lit in &args.literals {
        let (k, v) = lit.split_once('=').ok_or_else(|| {
            err(format!(
                "invalid literal source {lit:?}, expected key=value"
            ))
        })?;
        push(k.to_string(), unquote(v).as_bytes().to_vec())?;
    }
    for file in &args.files {
        let (key, rel) = match file.split_once('=') {
            Some((k, p)) => (k.to_string(), p),
            None => {
                let name = file.rsplit('/').next().unwrap_or(file);
                (name.to_string(), file.as_str())
            }
        };
        let path = b.file_path(dir, rel)?;
        let bytes = b.fs.read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        push(key, bytes)?;
    }
    let opts = merge_options(global, args.options.as_ref());
    let mut meta = Map::new();
    meta.insert("name".into(), Value::String(args.name.clone()));
    if !args.namespace.is_empty() {
        meta.insert("namespace".into(), Value::String(args.namespace.clone()));
    }
    if !opts.labels.is_empty() {
        meta.insert("labels".into(), string_map(&opts.labels));
    }
    if !opts.annotations.is_empty() {
        meta.insert("annotations".into(), string_map(&opts.annotations));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert(
        "kind".into(),
        Value::String(if secret { "Secret" } else { "ConfigMap" }.into()),
    );
    obj.insert("metadata".into(), Value::Object(meta));
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    if secret {
        let mut data = Map::new();
        for (k, v) in &pairs {
            data.insert(k.clone(), Value::String(encode_base64(v)));
        }
        // kustomize always writes `data` on generated Secrets, empty or not.
        obj.insert("data".into(), Value::Object(data));
        let ty = if args.type_.is_empty() {
            "Opaque"
        } else {
            &args.type_
        };
        obj.insert("type".into(), Value::String(ty.into()));
    } else {
        let mut data = Map::new();
        let mut binary = Map::new();
        for (k, v) in pairs {
            match String::from_utf8(v) {
                Ok(s) => {
                    data.insert(k, Value::String(s));
                }
                Err(e) => {
                    binary.insert(k, Value::String(encode_base64(e.as_bytes())));
                }
            }
        }
        if !data.is_empty() {
            obj.insert("data".into(), Value::Object(data));
        }
        if !binary.is_empty() {
            obj.insert("binaryData".into(), Value::Object(binary));
        }
    }
    if opts.immutable {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut res = Resource::new(Value::Object(obj));
    res.needs_hash = !opts.disable_name_suffix_hash;
    res.behavior = Some(behavior);
    Ok(res)
}

/// Base64 as kustomize writes generated Secret data and ConfigMap binaryData: standard
/// encoding, and once the encoding reaches 70 characters it is cut into lines of 70, each line
/// (the last one too) ending in a newline (kyaml's `encodeBase64`).
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

fn string_map(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Strips one pair of matching quotes around a literal's value.
fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Parses an env file: `KEY=value` lines; blank lines and `#` comments are skipped.
pub(crate) fn parse_env(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) => {
                if k.contains(char::is_whitespace) {
                    return Err(format!(
                        "line {}: invalid key {k:?}: contains whitespace",
                        i + 1
                    ));
                }
                out.push((k.to_string(), v.to_string()));
            }
            None => {
                // kustomize takes the value from its own environment; an offline engine has none.
                out.push((line.to_string(), std::env::var(line).unwrap_or_default()));
            }
        }
    }
    Ok(out)
}

/// kustomize's name hash of a ConfigMap or Secret (or any object): the first ten hex digits of
/// the SHA-256 of an encoding of its content, with some digits swapped for letters.
pub fn hash(obj: &Value) -> Result<String, String> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    // kustomize looks the name up as a single field called "metadata/name", which never exists:
    // the name always hashes as "".
    let name = Value::String(String::new());
    let field = |k: &str| obj.get(k).cloned().unwrap_or(Value::String(String::new()));
    let mut m = std::collections::BTreeMap::new();
    let encoded = match kind {
        "ConfigMap" => {
            m.insert("kind", Value::String("ConfigMap".into()));
            m.insert("name", name);
            m.insert("data", field("data"));
            if obj.get("binaryData").is_some_and(Value::is_object) {
                m.insert("binaryData", field("binaryData"));
            }
            go_json(&serde_json::to_value(&m).map_err(|e| e.to_string())?)
        }
        "Secret" => {
            m.insert("kind", Value::String("Secret".into()));
            m.insert("type", field("type"));
            m.insert("name", name);
            m.insert("data", field("data"));
            if obj.get("stringData").is_some_and(Value::is_object) {
                m.insert("stringData", field("stringData"));
            }
            go_json(&serde_json::to_value(&m).map_err(|e| e.to_string())?)
        }
        _ => go_json(obj),
    };
    let digest = Sha256::digest(encoded.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect())
}

/// JSON as Go's `encoding/json` writes it: map keys sorted, `<`, `>`, `&`, U+2028 and U+2029
/// escaped.
fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(k, out);
                out.push(':');
                if let Some(v) = map.get(*k) {
                    write_go_json(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_go_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_files() {
        let pairs = parse_env("# c\nA=1\n\n  B=x=y\n").unwrap();
        assert_eq!(
            pairs,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
    }

    #[test]
    fn base64_lines_like_kustomize() {
        assert_eq!(encode_base64(b"apple"), "YXBwbGU=");
        // 51 bytes encode to 68 characters: one line, no newline.
        assert!(!encode_base64(&[b'x'; 51]).contains('\n'));
        // 52 bytes encode to 72 characters: 70 + 2, each line ending in a newline.
        let long = encode_base64(&[b'x'; 52]);
        let lines: Vec<&str> = long.split_terminator('\n').collect();
        assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), [70, 2]);
        assert!(long.ends_with('\n'));
        // What kustomize prints for the corpus' forces.txt (58 bytes, 80 characters).
        let text = b"gravitational\nelectromagnetic\nstrong nuclear\nweak nuclear\n";
        assert_eq!(
            encode_base64(text),
            "Z3Jhdml0YXRpb25hbAplbGVjdHJvbWFnbmV0aWMKc3Ryb25nIG51Y2xlYXIKd2VhayBudW\nNsZWFyCg==\n"
        );
    }

    #[test]
    fn hash_is_ten_characters() {
        let h = hash(&json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}))
            .unwrap();
        assert_eq!(h.len(), 10);
    }
}
