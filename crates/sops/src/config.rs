//! `.sops.yaml`: creation rules (which keys and rules a new file is encrypted with) and store
//! settings (output indentation). Pure: the caller finds and reads the file.

use regex::Regex;

use crate::format::StoreOptions;
use crate::keys::Recipient;
use crate::metadata::Rules;
use crate::tree::{Branch, Value};
use crate::{EncryptSettings, Error};

/// Why `.sops.yaml` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not parse.
    #[error("failed to parse .sops.yaml: {0}")]
    Parse(String),
    /// A field has the wrong shape.
    #[error(".sops.yaml: {field}: {problem}")]
    Field {
        /// The field path.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// No creation rule matches the file.
    #[error("no matching creation rules found in .sops.yaml for {0}")]
    NoMatch(String),
    /// The matching rule has no age key (only PGP/KMS/…).
    #[error(
        ".sops.yaml creation rule {index} for {path} has no age recipients (only {others}), which keelson does not support"
    )]
    NoAgeKeys {
        /// Index of the rule.
        index: usize,
        /// The file path.
        path: String,
        /// The other key types named by the rule.
        others: String,
    },
    /// An age recipient is malformed.
    #[error(".sops.yaml: {0}")]
    Key(#[from] crate::keys::KeyError),
}

/// A parsed `.sops.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    rules: Vec<Branch>,
    /// The store settings.
    pub stores: StoreOptions,
}

fn field(field: &str, problem: &str) -> ConfigError {
    ConfigError::Field {
        field: field.to_string(),
        problem: problem.to_string(),
    }
}

/// A string or a list of strings, flattened on commas.
fn strings(v: Option<&Value>, name: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Str(s)) => out.extend(s.split(',').map(|s| s.trim().to_string())),
        Some(Value::Seq(items)) => {
            for item in items {
                match item {
                    Value::Str(s) => out.extend(s.split(',').map(|s| s.trim().to_string())),
                    Value::Comment(_) => {}
                    _ => return Err(field(name, "expected a string in the list")),
                }
            }
        }
        Some(_) => return Err(field(name, "expected a string or a list of strings")),
    }
    out.retain(|s| !s.is_empty());
    Ok(out)
}

fn opt_str(b: &Branch, key: &str) -> Option<String> {
    match b.get(key) {
        Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

impl Config {
    /// Parses the text of a `.sops.yaml`.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let docs =
            crate::yaml::parse::parse(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let root = docs.into_iter().next().unwrap_or_default();
        let mut config = Config::default();
        if let Some(Value::Seq(items)) = root.get("creation_rules") {
            for (i, item) in items
                .iter()
                .filter(|v| !matches!(v, Value::Comment(_)))
                .enumerate()
            {
                match item {
                    Value::Map(b) => config.rules.push(b.clone()),
                    _ => return Err(field(&format!("creation_rules[{i}]"), "expected a mapping")),
                }
            }
        }
        if let Some(Value::Map(stores)) = root.get("stores") {
            if let Some(Value::Map(y)) = stores.get("yaml")
                && let Some(Value::Int(n)) = y.get("indent")
                && *n > 0
            {
                config.stores.yaml_indent = *n as usize;
            }
            if let Some(Value::Map(j)) = stores.get("json")
                && let Some(Value::Int(n)) = j.get("indent")
            {
                config.stores.json_indent = usize::try_from(*n).ok();
            }
        }
        Ok(config)
    }

    /// The encryption settings of the first creation rule whose `path_regex` matches `path`
    /// (the file's path relative to the directory of `.sops.yaml`); a rule without
    /// `path_regex` matches every file.
    pub fn settings_for(&self, path: &str) -> Result<EncryptSettings, ConfigError> {
        for (index, rule) in self.rules.iter().enumerate() {
            if let Some(re) = opt_str(rule, "path_regex") {
                let re = Regex::new(&re).map_err(|e| {
                    field(
                        &format!("creation_rules[{index}].path_regex"),
                        &e.to_string(),
                    )
                })?;
                if !re.is_match(path) {
                    continue;
                }
            }
            return self.settings_from(index, rule, path);
        }
        Err(ConfigError::NoMatch(path.to_string()))
    }

    fn settings_from(
        &self,
        index: usize,
        rule: &Branch,
        path: &str,
    ) -> Result<EncryptSettings, ConfigError> {
        let name = format!("creation_rules[{index}]");
        let mut groups: Vec<Vec<Recipient>> = Vec::new();
        let mut others = Vec::new();
        let other_types = [
            "pgp",
            "kms",
            "gcp_kms",
            "azure_keyvault",
            "hc_vault_transit_uri",
            "hckms",
        ];
        let group_of = |b: &Branch,
                        f: &str,
                        others: &mut Vec<String>|
         -> Result<Vec<Recipient>, ConfigError> {
            for t in other_types {
                if b.get(t).is_some_and(|v| !matches!(v, Value::Null)) {
                    others.push(t.to_string());
                }
            }
            let mut out = Vec::new();
            for r in strings(b.get("age"), &format!("{f}.age"))? {
                out.push(Recipient::parse(&r)?);
            }
            Ok(out)
        };
        match rule.get("key_groups") {
            Some(Value::Seq(items)) => {
                for (i, g) in items
                    .iter()
                    .filter(|v| !matches!(v, Value::Comment(_)))
                    .enumerate()
                {
                    let Value::Map(g) = g else {
                        return Err(field(
                            &format!("{name}.key_groups[{i}]"),
                            "expected a mapping",
                        ));
                    };
                    groups.push(group_of(
                        g,
                        &format!("{name}.key_groups[{i}]"),
                        &mut others,
                    )?);
                }
            }
            _ => groups.push(group_of(rule, &name, &mut others)?),
        }
        if groups.iter().any(Vec::is_empty) {
            others.sort();
            others.dedup();
            return Err(ConfigError::NoAgeKeys {
                index,
                path: path.to_string(),
                others: if others.is_empty() {
                    "no keys".into()
                } else {
                    others.join(", ")
                },
            });
        }
        let rules = Rules {
            unencrypted_suffix: opt_str(rule, "unencrypted_suffix"),
            encrypted_suffix: opt_str(rule, "encrypted_suffix"),
            unencrypted_regex: opt_str(rule, "unencrypted_regex"),
            encrypted_regex: opt_str(rule, "encrypted_regex"),
            unencrypted_comment_regex: opt_str(rule, "unencrypted_comment_regex"),
            encrypted_comment_regex: opt_str(rule, "encrypted_comment_regex"),
            mac_only_encrypted: matches!(rule.get("mac_only_encrypted"), Some(Value::Bool(true))),
        };
        let shamir_threshold = match rule.get("shamir_threshold") {
            Some(Value::Int(n)) if *n > 0 => *n as usize,
            _ => 0,
        };
        Ok(EncryptSettings {
            key_groups: groups,
            shamir_threshold,
            rules,
            last_modified: None,
        })
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Parse {
            format: ".sops.yaml",
            message: e.to_string(),
        }
    }
}
