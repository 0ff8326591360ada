//! The real sops fixtures of Flux's kustomize-controller (shared corpus) decrypt with their age
//! test keys to the plaintexts the Go tests expect.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use keelson_sops::tree::Value;
use keelson_sops::{Format, Identities, StoreOptions, kube};

fn dir() -> PathBuf {
    keelson_testsupport::shared_dir().join("corpus/sops/kustomize-controller")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(dir().join(rel)).unwrap()
}

fn ids(rel: &str) -> Identities {
    Identities::parse(&String::from_utf8(read(rel)).unwrap(), rel).unwrap()
}

fn string_data(tree: &keelson_sops::tree::Tree, key: &str) -> String {
    let Some(Value::Map(sd)) = tree.branches[0].get("stringData") else {
        panic!("no stringData")
    };
    sd.get(key).and_then(Value::as_str).unwrap().to_string()
}

#[test]
fn age_secret_decrypts() {
    let tree = keelson_sops::decrypt_to_tree(
        &read("algorithms/age.yaml"),
        Format::Yaml,
        &ids("keys/age.txt"),
    )
    .unwrap();
    assert_eq!(string_data(&tree, "key"), "value");
    assert!(tree.branches[0].get("sops").is_none());
}

#[test]
fn encrypted_patches_decrypt() {
    let id = ids("keys/age.txt");
    let t1 =
        keelson_sops::decrypt_to_tree(&read("patches/merge1.yaml"), Format::Yaml, &id).unwrap();
    assert_eq!(string_data(&t1, "key"), "merge1");
    let t2 =
        keelson_sops::decrypt_to_tree(&read("patches/merge2.yaml"), Format::Yaml, &id).unwrap();
    assert_eq!(string_data(&t2, "merge2"), "merge2");
}

#[test]
fn global_key_secret_decrypts_only_with_global_key() {
    let tree = keelson_sops::decrypt_to_tree(
        &read("global/secret.yaml"),
        Format::Yaml,
        &ids("keys/age-global.txt"),
    )
    .unwrap();
    assert_eq!(string_data(&tree, "key"), "global-value");
    let err = keelson_sops::decrypt_to_tree(
        &read("global/secret.yaml"),
        Format::Yaml,
        &ids("keys/age.txt"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("none of the 1 age identities"), "{err}");
    assert!(!err.contains("global-value"));
}

#[test]
fn dotenv_sources_decrypt() {
    let id = ids("keys/age.txt");
    for f in ["envs/env.env", "component/env.env", "remote/env.env"] {
        let out =
            keelson_sops::decrypt(&read(f), Format::Dotenv, &id, &StoreOptions::default()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "key=value\n", "{f}");
        let via_kube = kube::decrypt_source(f, &read(f), &id).unwrap().unwrap();
        assert_eq!(via_kube, b"key=value\n");
        // envs sources are dotenv whatever their name.
        let as_env = kube::decrypt_source_as(Format::Dotenv, &read(f), &id)
            .unwrap()
            .unwrap();
        assert_eq!(as_env, b"key=value\n");
        // A plain (not encrypted) source is left alone.
        assert!(
            kube::decrypt_source("plain.env", b"a=b\n", &id)
                .unwrap()
                .is_none()
        );
    }
}

#[test]
fn file_source_decrypts_as_binary() {
    let out = kube::decrypt_source("file.txt", &read("files/file.txt"), &ids("keys/age.txt"))
        .unwrap()
        .unwrap();
    assert_eq!(out, b"value");
}

#[test]
fn sops_document_nested_in_secret_data_decrypts() {
    let text = String::from_utf8(read("inside/secret.yaml")).unwrap();
    let tree = keelson_sops::format::load_plain(text.as_bytes(), Format::Yaml).unwrap();
    let Some(Value::Map(data)) = tree.branches[0].get("data") else {
        panic!()
    };
    let encoded = data.get("key").and_then(Value::as_str).unwrap();
    let mut doc =
        serde_json::json!({"apiVersion": "v1", "kind": "Secret", "data": {"key": encoded}});
    assert!(!kube::is_sops_encrypted(&doc));
    let n = kube::decrypt_secret_data(&mut doc, &ids("keys/age.txt")).unwrap();
    assert_eq!(n, 1);
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD
        .decode(doc["data"]["key"].as_str().unwrap())
        .unwrap();
    assert_eq!(plain, b"value");
}

#[test]
fn manifest_decrypts_as_json_document() {
    let tree =
        keelson_sops::format::load_plain(&read("algorithms/age.yaml"), Format::Yaml).unwrap();
    // Through JSON, as the Kustomization build hands manifests over.
    let json = keelson_sops::json::emit(&tree.branches[0], Some(2)).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(kube::is_sops_encrypted(&doc));
    let plain = kube::decrypt_document(&doc, &ids("keys/age.txt")).unwrap();
    assert_eq!(plain["stringData"]["key"], "value");
    assert!(plain.get("sops").is_none());
}

#[test]
fn identities_from_decryption_secret() {
    let key = read("keys/age.txt");
    let other = b"not a key".to_vec();
    let entries = vec![
        ("identity.agekey", key.as_slice()),
        ("sops.asc", other.as_slice()),
    ];
    let ids = kube::identities_from_secret(entries).unwrap();
    assert_eq!(ids.len(), 1);
}

#[test]
fn pgp_only_file_is_not_supported() {
    let err = keelson_sops::decrypt_to_tree(
        &read("algorithms/pgp.yaml"),
        Format::Yaml,
        &ids("keys/age.txt"),
    )
    .unwrap_err()
    .in_file("algorithms/pgp.yaml")
    .to_string();
    assert!(err.contains("algorithms/pgp.yaml"), "{err}");
    assert!(
        err.contains("pgp 35C1A64CD7FC0AB6EB66756B2445463C3234ECE1"),
        "{err}"
    );
    assert!(err.contains("not support"), "{err}");
}

#[test]
fn post_quantum_identity_is_a_clear_error() {
    let err = Identities::parse(
        &String::from_utf8(read("keys/age-pq.txt")).unwrap(),
        "keys/age-pq.txt",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("post-quantum"), "{err}");
    assert!(!err.contains("AGE-SECRET-KEY-PQ-1Z"), "{err}");
}

#[test]
fn sops_config_of_the_corpus_parses() {
    let cfg = keelson_sops::config::Config::parse(&String::from_utf8(read(".sops.yaml")).unwrap())
        .unwrap();
    assert_eq!(cfg.stores.yaml_indent, 2);
    let s = cfg.settings_for("secret.yaml").unwrap();
    assert_eq!(
        s.rules.encrypted_regex.as_deref(),
        Some("^(data|stringData)$")
    );
    assert_eq!(
        s.key_groups[0][0].as_str(),
        "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"
    );
    assert!(cfg.settings_for("inside.yaml").is_err());
    let s = cfg.settings_for("x.env").unwrap();
    assert_eq!(s.rules.count(), 0);
}
