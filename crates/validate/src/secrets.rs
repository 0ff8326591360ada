//! Secret scanning: our own rule set for the common credential formats, in the design gitleaks
//! made popular — a keyword prefilter (one Aho-Corasick pass finds which rules can match at
//! all), then each candidate rule's regular expression, then an entropy floor for the rules that
//! match generic shapes.
//!
//! Allow-lists: a line holding `keelson:allow` (or `gitleaks:allow`) is never reported, and the
//! repository's `.keelsonignore` lists fingerprints (`file:rule:line`) or gitignore-style path
//! patterns to skip.

use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

/// One detection rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The id, reported as `secret/<id>`.
    pub id: &'static str,
    /// What the rule finds.
    pub description: &'static str,
    /// Lowercase words one of which must appear for the rule to be tried.
    pub keywords: &'static [&'static str],
    /// The expression; the secret is capture group 1 when there is one, else the whole match.
    pub pattern: &'static str,
    /// The least Shannon entropy (bits per byte) of the secret (0 for none).
    pub entropy: f64,
}

/// The built-in rules. Formats are the providers' documented token shapes.
pub const RULES: &[Rule] = &[
    Rule {
        id: "aws-access-key-id",
        description: "AWS access key id",
        keywords: &["akia", "asia", "abia", "acca", "a3t"],
        pattern: r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
        entropy: 3.0,
    },
    Rule {
        id: "aws-secret-access-key",
        description: "AWS secret access key assignment",
        keywords: &["aws_secret", "secret_access_key", "secretaccesskey"],
        pattern: r#"(?i)(?:aws_?secret_?access_?key|secret_?access_?key)["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})\b"#,
        entropy: 3.5,
    },
    Rule {
        id: "github-token",
        description: "GitHub personal access, OAuth, app or refresh token",
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        pattern: r"\b((?:ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36})\b",
        entropy: 3.0,
    },
    Rule {
        id: "github-fine-grained-pat",
        description: "GitHub fine-grained personal access token",
        keywords: &["github_pat_"],
        pattern: r"\b(github_pat_[0-9A-Za-z_]{82})\b",
        entropy: 3.0,
    },
    Rule {
        id: "gitlab-token",
        description: "GitLab personal, project or deploy token",
        keywords: &["glpat-", "gldt-", "glptt-"],
        pattern: r"\b((?:glpat|gldt|glptt)-[0-9A-Za-z_-]{20})\b",
        entropy: 3.0,
    },
    Rule {
        id: "slack-token",
        description: "Slack bot, user or app token",
        keywords: &["xoxb-", "xoxp-", "xoxa-", "xoxe-", "xapp-"],
        pattern: r"\b((?:xox[bpae]|xapp)-[0-9]{1,13}-[0-9A-Za-z-]{10,100})\b",
        entropy: 3.0,
    },
    Rule {
        id: "slack-webhook",
        description: "Slack incoming webhook URL",
        keywords: &["hooks.slack.com"],
        pattern: r"(hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{40,60})",
        entropy: 0.0,
    },
    Rule {
        id: "gcp-api-key",
        description: "Google Cloud API key",
        keywords: &["aiza"],
        pattern: r"\b(AIza[0-9A-Za-z_-]{35})\b",
        entropy: 3.0,
    },
    Rule {
        id: "gcp-service-account-key",
        description: "Google Cloud service account key (JSON)",
        keywords: &["private_key_id"],
        pattern: r#""private_key_id"\s*:\s*"([0-9a-f]{40})""#,
        entropy: 0.0,
    },
    Rule {
        id: "stripe-key",
        description: "Stripe secret or restricted key",
        keywords: &["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
        pattern: r"\b((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,99})\b",
        entropy: 3.0,
    },
    Rule {
        id: "npm-token",
        description: "npm access token",
        keywords: &["npm_"],
        pattern: r"\b(npm_[0-9A-Za-z]{36})\b",
        entropy: 3.0,
    },
    Rule {
        id: "azure-storage-key",
        description: "Azure storage account key in a connection string",
        keywords: &["accountkey="],
        pattern: r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)",
        entropy: 0.0,
    },
    Rule {
        id: "jwt",
        description: "JSON Web Token",
        keywords: &["eyj"],
        pattern: r"\b(eyJ[0-9A-Za-z_-]{10,}\.eyJ[0-9A-Za-z_-]{10,}\.[0-9A-Za-z_-]{10,})",
        entropy: 3.0,
    },
    Rule {
        id: "private-key",
        description: "Private key (PEM/OpenSSH)",
        keywords: &["private key"],
        pattern: r"(?s)(-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s:,-]{64,}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)",
        entropy: 0.0,
    },
    Rule {
        id: "age-secret-key",
        description: "age secret key",
        // `AGE-SECRET-KEY-PQ-1…`: the post-quantum (ML-KEM hybrid) identities of age 1.3.
        keywords: &["age-secret-key-"],
        pattern: r"\b(AGE-SECRET-KEY-(?:PQ-)?1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b",
        entropy: 0.0,
    },
    Rule {
        id: "generic-credential",
        description: "High-entropy value assigned to a password, secret, token or key",
        keywords: &[
            "passw",
            "secret",
            "token",
            "apikey",
            "api_key",
            "api-key",
            "access_key",
            "accesskey",
            "auth",
            "credential",
        ],
        pattern: r#"(?i)(?:passw(?:or)?d|secret|token|api[_.-]?key|access[_.-]?key|auth[_.-]?(?:key|token)|credentials?)[\w.-]{0,20}["']?[ \t]*(?::|=|:=|=>)[ \t]*["']?([A-Za-z0-9+/_.=~-]{12,200})(?:["'\s;,]|$)"#,
        entropy: 3.5,
    },
];

/// The rule for high-entropy assignments, which gives way to a specific rule on the same secret.
const GENERIC: &str = "generic-credential";

/// A secret found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule that matched.
    pub rule: &'static str,
    /// The rule's description.
    pub description: &'static str,
    /// The line of the secret (1-based).
    pub line: usize,
}

/// The compiled rule set.
#[derive(Debug)]
pub struct Scanner {
    rules: Vec<(Rule, Regex)>,
    keywords: AhoCorasick,
    /// For each keyword pattern, the rule it belongs to.
    keyword_rule: Vec<usize>,
}

impl Scanner {
    /// Compiles [`RULES`].
    ///
    /// # Panics
    /// Never for the built-in rules (their patterns are fixed and tested).
    pub fn new() -> Scanner {
        let mut rules = Vec::new();
        let mut words = Vec::new();
        let mut keyword_rule = Vec::new();
        for (i, rule) in RULES.iter().enumerate() {
            #[allow(clippy::expect_used)]
            let re = Regex::new(rule.pattern).expect("built-in rule patterns compile (tested)");
            rules.push((*rule, re));
            for k in rule.keywords {
                words.push(*k);
                keyword_rule.push(i);
            }
        }
        #[allow(clippy::expect_used)]
        let keywords = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&words)
            .expect("keyword automaton builds (tested)");
        Scanner {
            rules,
            keywords,
            keyword_rule,
        }
    }

    /// The secrets in `content`; lines marked `keelson:allow` or `gitleaks:allow` are skipped.
    pub fn scan(&self, content: &[u8]) -> Vec<Hit> {
        let mut candidates = vec![false; self.rules.len()];
        for m in self.keywords.find_overlapping_iter(content) {
            candidates[self.keyword_rule[m.pattern().as_usize()]] = true;
        }
        // (hit, byte span of the secret)
        let mut hits: Vec<(Hit, std::ops::Range<usize>)> = Vec::new();
        for (i, (rule, re)) in self.rules.iter().enumerate() {
            if !candidates[i] {
                continue;
            }
            for caps in re.captures_iter(content) {
                let Some(secret) = caps.get(1).or_else(|| caps.get(0)) else {
                    continue;
                };
                let value = secret.as_bytes();
                if rule.entropy > 0.0 && entropy(value) < rule.entropy {
                    continue;
                }
                if rule.id == GENERIC
                    && (!plausible_generic(value)
                        || names_something(assigned_key(content, secret.start()), value)
                        || names_a_host(content, value))
                {
                    continue;
                }
                let line = line_of(content, secret.start());
                let text = String::from_utf8_lossy(line_text(content, secret.start()))
                    .to_ascii_lowercase();
                if text.contains("keelson:allow") || text.contains("gitleaks:allow") {
                    continue;
                }
                hits.push((
                    Hit {
                        rule: rule.id,
                        description: rule.description,
                        line,
                    },
                    secret.range(),
                ));
            }
        }
        // A generic assignment whose value a specific rule already names
        // (`token: ghp_…`, `AWS_ACCESS_KEY_ID=AKIA…`) is one secret, reported once by the
        // specific rule, as gitleaks drops its generic-api-key finding there.
        let specific: Vec<std::ops::Range<usize>> = hits
            .iter()
            .filter(|(h, _)| h.rule != GENERIC)
            .map(|(_, r)| r.clone())
            .collect();
        let mut hits: Vec<Hit> = hits
            .into_iter()
            .filter(|(h, span)| {
                h.rule != GENERIC
                    || !specific
                        .iter()
                        .any(|r| r.start < span.end && span.start < r.end)
            })
            .map(|(h, _)| h)
            .collect();
        hits.sort_by_key(|h| (h.line, h.rule));
        hits.dedup();
        hits
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

/// A generic assignment looks like a secret when it mixes letters and digits and is not a
/// placeholder, a reference or a SOPS/template expression.
fn plausible_generic(value: &[u8]) -> bool {
    let has_digit = value.iter().any(u8::is_ascii_digit);
    let has_alpha = value.iter().any(u8::is_ascii_alphabetic);
    let lower = String::from_utf8_lossy(value).to_ascii_lowercase();
    has_digit
        && has_alpha
        && ![
            "example",
            "xxxxxx",
            "changeme",
            "placeholder",
            "redacted",
            "dummy",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

/// The key a generic value is assigned to: the last identifier before the value on its line
/// (`existingSecret` in `existingSecret: x`, `WEBHOOK_SECRET_FILE` in `WEBHOOK_SECRET_FILE=x`).
fn assigned_key(content: &[u8], value_start: usize) -> &[u8] {
    let line_start = content[..value_start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let before = &content[line_start..value_start];
    let end = before
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'"' | b'\'' | b':' | b'=' | b'>'))
        .map_or(0, |p| p + 1);
    let start = before[..end]
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
        .map_or(0, |p| p + 1);
    &before[start..end]
}

/// File extensions of values that name a file rather than hold a secret
/// (`secretKey: app-7c48d-e078848c9fb0.json`).
const FILE_EXTENSIONS: &[&str] = &[
    "json",
    "yaml",
    "yml",
    "toml",
    "ini",
    "conf",
    "cfg",
    "txt",
    "env",
    "pem",
    "crt",
    "cert",
    "key",
    "pub",
    "p12",
    "pfx",
    "jks",
    "der",
    "csr",
    "sh",
    "py",
    "js",
    "db",
    "sqlite",
    "xml",
    "properties",
];

/// Whether the value assigned to `key` names a credential instead of being one: a path
/// (`/run/secrets/webhook_secret`), a file name, or, under a key that holds a reference
/// (`secretName`, `existingSecret`, `*_FILE`, `*Ref`), an object name; also a Kubernetes name
/// made of words (`oauth2-proxy-dex`) under a key ending in `secret`, the Helm charts'
/// convention for "the Secret to read".
fn names_something(key: &[u8], value: &[u8]) -> bool {
    let key = String::from_utf8_lossy(key).to_ascii_lowercase();
    let value = String::from_utf8_lossy(value);
    if is_path(&value) || is_file_name(&value) || is_variable_name(&value) {
        return true;
    }
    let reference_key = key.starts_with("existing")
        || ["name", "names", "ref", "file", "path", "dir"]
            .iter()
            .any(|s| key.ends_with(s));
    let secret_key = key.ends_with("secret") || key.ends_with("secrets");
    (reference_key && is_object_name(&value)) || (secret_key && is_worded_name(&value))
}

/// An object name all of whose segments are words with at most two trailing digits, or short
/// numbers (`oauth2-proxy-dex`, `grafana-admin-2`): what a person names, not what a generator
/// emits.
fn is_worded_name(value: &str) -> bool {
    is_object_name(value)
        && value.split(['-', '.']).all(|seg| {
            let letters = seg.bytes().take_while(u8::is_ascii_lowercase).count();
            let digits = seg.len() - letters;
            seg.bytes().skip(letters).all(|b| b.is_ascii_digit())
                && if letters == 0 {
                    (1..=3).contains(&digits)
                } else {
                    digits <= 2
                }
        })
}

/// An environment variable or key name (`CONTEXT7_API_KEY` under an ExternalSecret's
/// `secretKey`): upper case words joined by `_`.
fn is_variable_name(value: &str) -> bool {
    value.contains('_')
        && !value.starts_with('_')
        && value.split('_').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
        && value
            .split('_')
            .any(|w| w.bytes().filter(u8::is_ascii_uppercase).count() >= 3)
}

/// Whether the value is also the host of a URL in the same file
/// (`apiBase: http://llama-strix-fp8.llm:8080` beside `apiKey: llama-strix-fp8`, the dummy key
/// a keyless local server takes): a name, not a secret.
fn names_a_host(content: &[u8], value: &[u8]) -> bool {
    let mut needle = b"//".to_vec();
    needle.extend_from_slice(value);
    content
        .windows(needle.len())
        .any(|w| w == needle.as_slice())
}

/// An absolute or relative path of at least two segments, none of them base64 padding or
/// `+` (which a path rarely holds and base64 often does).
fn is_path(value: &str) -> bool {
    let rest = value
        .strip_prefix("./")
        .or_else(|| value.strip_prefix("~/"))
        .or_else(|| value.strip_prefix('/'));
    let Some(rest) = rest else { return false };
    let segments: Vec<&str> = rest.split('/').collect();
    segments.len() >= 2
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        })
}

/// A file name: a stem and one of [`FILE_EXTENSIONS`].
fn is_file_name(value: &str) -> bool {
    value.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && !stem.contains('/')
            && FILE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
    })
}

/// A Kubernetes object name (DNS-1123: lowercase, digits, `-`, `.`) with at least one
/// segment that is a word (three or more letters, not all hexadecimal), so a lowercase UUID or
/// hex string is not taken for a name.
fn is_object_name(value: &str) -> bool {
    let dns = value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    dns && value.split(['-', '.']).any(|seg| {
        seg.len() >= 3
            && seg.bytes().all(|b| b.is_ascii_lowercase())
            && seg.bytes().any(|b| b > b'f')
    })
}

/// Shannon entropy in bits per byte.
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// The 1-based line of byte `offset`.
pub fn line_of(content: &[u8], offset: usize) -> usize {
    content[..offset.min(content.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn line_text(content: &[u8], offset: usize) -> &[u8] {
    let start = content[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let end = content[offset..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(content.len(), |p| offset + p);
    &content[start..end]
}

/// Whether the bytes look binary (a NUL in the first 8 KiB).
pub fn is_binary(content: &[u8]) -> bool {
    content[..content.len().min(8192)].contains(&0)
}

/// The allow-list from `.keelsonignore`: fingerprints `file:rule:line` and path patterns.
#[derive(Debug, Default)]
pub struct Allow {
    fingerprints: std::collections::HashSet<String>,
    paths: Option<ignore::gitignore::Gitignore>,
}

impl Allow {
    /// Reads `.keelsonignore` in `root` (an absent file allows nothing).
    pub fn load(root: &Path) -> Allow {
        let Ok(text) = std::fs::read_to_string(root.join(".keelsonignore")) else {
            return Allow::default();
        };
        let mut allow = Allow::default();
        let mut builder = ignore::gitignore::GitignoreBuilder::new(root);
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.rsplitn(3, ':').collect();
            if parts.len() == 3 && parts[0].parse::<usize>().is_ok() {
                allow.fingerprints.insert(line.to_string());
            } else {
                let _ = builder.add_line(None, line);
            }
        }
        allow.paths = builder.build().ok();
        allow
    }

    /// Whether findings in `file` (relative) are skipped altogether.
    pub fn path_allowed(&self, file: &Path) -> bool {
        self.paths
            .as_ref()
            .is_some_and(|g| g.matched_path_or_any_parents(file, false).is_ignore())
    }

    /// Whether the finding `file:rule:line` is allowed (`rule` without the `secret/` prefix).
    pub fn allowed(&self, file: &Path, rule: &str, line: usize) -> bool {
        self.fingerprints
            .contains(&format!("{}:{rule}:{line}", file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(&'static str, usize)> {
        Scanner::new()
            .scan(text.as_bytes())
            .into_iter()
            .map(|h| (h.rule, h.line))
            .collect()
    }

    #[test]
    fn finds_each_format() {
        // Built from fragments so this file holds no scannable secret.
        let gh = format!("ghp_{}", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5");
        let aws = format!("AKIA{}", "Z7XQ2M4N6P3R5T7V");
        let text = format!(
            "a: 1\ntoken: {gh}\nkey: {aws}\npassword: \"Zx8#kQ2pL9vR4tY7\"\napiKey: q8Vn3KdL2mXz7Rt5Wp9Y\n"
        );
        assert_eq!(
            rules(&text),
            vec![
                ("github-token", 2),
                ("aws-access-key-id", 3),
                ("generic-credential", 5)
            ]
        );
    }

    #[test]
    fn skips_references_placeholders_and_allowed_lines() {
        let text = "secretName: my-app-tls\npassword: ${DB_PASSWORD}\ntoken: ENC[AES256_GCM,data:abc]\npassword: example-123456789\napiKey: q8Vn3KdL2mXz7Rt5Wp9Y # keelson:allow\n";
        assert_eq!(rules(text), vec![]);
    }

    #[test]
    fn finds_private_keys_at_their_first_line() {
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n".repeat(3);
        let text = format!(
            "x: 1\nkey: |\n  -----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n"
        );
        assert_eq!(rules(&text), vec![("private-key", 3)]);
    }

    #[test]
    fn entropy_of_uniform_and_constant_data() {
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
    }
}
