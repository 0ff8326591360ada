//! Helm HTTP(S) chart repositories (`HelmRepository` of `type: default`): fetch `index.yaml`,
//! keep it as a normalised artifact, pick a chart version by a semver constraint, and download
//! the chart archive.
//!
//! The flow of a HelmRepository reconcile is [`HelmRepoClient::new`] (credentials from the
//! object's Secrets, see [`HelmRepoAuth`]) → [`HelmRepoClient::fetch_index`] →
//! [`Index::normalised`] (entries sorted by name, each chart's versions newest first, as Helm's
//! `SortEntries`) → [`crate::Storage::store_bytes`] as `index-<hex>.yaml` with revision
//! `sha256:<hex>` of the normalised bytes. A HelmChart reconcile reads that artifact back with
//! [`Index::parse`], resolves [`Index::select`] and calls [`HelmRepoClient::download`].
//!
//! Credentials go only to the repository's own origin (scheme, host and port) unless
//! `passCredentials` is set, as in Helm and Flux. No message carries a password.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde_json::{Map, Value};

use crate::auth::BasicAuth;
use crate::semver::{Constraint, parse_version};

/// Flux's reason for a failure to fetch or parse a repository index.
pub const REASON_INDEXATION_FAILED: &str = "IndexationFailed";
/// Flux's reason for a failure to download a chart.
pub const REASON_CHART_PULL_FAILED: &str = "ChartPullFailed";
/// Flux's reason for a chart name or version that the repository does not have.
pub const REASON_INVALID_CHART_REFERENCE: &str = "InvalidChartReference";
/// Flux's reason for unusable credentials.
pub const REASON_AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
/// Flux's reason for an invalid URL.
pub const REASON_URL_INVALID: &str = "URLInvalid";

/// Credentials and TLS settings of a Helm repository, from Flux's Secrets.
#[derive(Clone, Default)]
pub struct HelmRepoAuth {
    /// HTTP basic auth (`username`/`password` of `spec.secretRef`).
    pub basic: Option<BasicAuth>,
    /// Extra CA certificates, PEM (`ca.crt` of `spec.certSecretRef`, or the deprecated
    /// `caFile` of `spec.secretRef`).
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and key, PEM (`tls.crt`/`tls.key`, or the deprecated
    /// `certFile`/`keyFile`).
    pub client_cert: Option<(Vec<u8>, Vec<u8>)>,
    /// Send the credentials to other hosts too (`spec.passCredentials`).
    pub pass_credentials: bool,
}

impl fmt::Debug for HelmRepoAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HelmRepoAuth")
            .field("basic", &self.basic)
            .field("ca_pem", &self.ca_pem.is_some())
            .field("client_cert", &self.client_cert.is_some())
            .field("pass_credentials", &self.pass_credentials)
            .finish()
    }
}

impl HelmRepoAuth {
    /// Reads `spec.secretRef` (`username`/`password`, deprecated `certFile`/`keyFile`/`caFile`)
    /// and `spec.certSecretRef` (`tls.crt`/`tls.key`/`ca.crt`, which win) decoded data.
    pub fn from_secrets(
        secret: Option<&BTreeMap<String, Vec<u8>>>,
        cert_secret: Option<&BTreeMap<String, Vec<u8>>>,
    ) -> Result<Self, HelmRepoError> {
        let mut auth = HelmRepoAuth::default();
        let text = |data: &BTreeMap<String, Vec<u8>>, key: &str| -> Option<String> {
            data.get(key)
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .trim_end_matches(['\r', '\n'])
                        .to_string()
                })
                .filter(|s| !s.is_empty())
        };
        if let Some(data) = secret {
            match (text(data, "username"), text(data, "password")) {
                (Some(username), Some(password)) => {
                    auth.basic = Some(BasicAuth { username, password })
                }
                (None, None) => {}
                _ => {
                    return Err(HelmRepoError::InvalidSecret(
                        "secret must contain both 'username' and 'password' or neither".into(),
                    ));
                }
            }
            auth.ca_pem = data.get("caFile").cloned();
            if let (Some(c), Some(k)) = (data.get("certFile"), data.get("keyFile")) {
                auth.client_cert = Some((c.clone(), k.clone()));
            }
        }
        if let Some(data) = cert_secret {
            if let Some(ca) = data.get("ca.crt") {
                auth.ca_pem = Some(ca.clone());
            }
            match (data.get("tls.crt"), data.get("tls.key")) {
                (Some(c), Some(k)) => auth.client_cert = Some((c.clone(), k.clone())),
                (None, None) => {}
                _ => {
                    return Err(HelmRepoError::InvalidSecret(
                        "certificate secret must contain both 'tls.crt' and 'tls.key' or neither"
                            .into(),
                    ));
                }
            }
        }
        Ok(auth)
    }
}

/// Why talking to a Helm repository failed.
#[derive(Debug, thiserror::Error)]
pub enum HelmRepoError {
    /// The repository URL is not an http(s) URL.
    #[error("invalid Helm repository URL '{url}': {message}")]
    InvalidUrl {
        /// The URL as written.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A Secret's content cannot be used.
    #[error("invalid secret: {0}")]
    InvalidSecret(String),
    /// The TLS settings (CA, client certificate) are unusable.
    #[error("invalid TLS configuration: {0}")]
    Tls(String),
    /// The request failed (connection, timeout, TLS handshake).
    #[error("failed to fetch {url} : {message}")]
    Request {
        /// The URL, without credentials.
        url: String,
        /// The cause.
        message: String,
    },
    /// The server answered with an error status.
    #[error("failed to fetch {url} : {status}")]
    Status {
        /// The URL, without credentials.
        url: String,
        /// The HTTP status, e.g. `401 Unauthorized`.
        status: String,
    },
    /// The index is not a Helm repository index.
    #[error("failed to parse Helm repository index from {url}: {message}")]
    InvalidIndex {
        /// Where it came from.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The chart is not in the index.
    #[error("no chart name found")]
    NoChart {
        /// The chart name asked for.
        name: String,
    },
    /// No version of the chart matches the constraint.
    #[error("no '{name}' chart with version matching '{constraint}' found")]
    NoVersion {
        /// The chart name.
        name: String,
        /// The constraint as written.
        constraint: String,
    },
    /// The version constraint does not parse.
    #[error("invalid version/constraint format '{constraint}': {message}")]
    InvalidConstraint {
        /// The constraint as written.
        constraint: String,
        /// What is wrong.
        message: String,
    },
    /// The chart version has no download URL.
    #[error("chart '{name}' version '{version}' has no downloadable URLs")]
    NoUrl {
        /// The chart name.
        name: String,
        /// The version.
        version: String,
    },
}

impl HelmRepoError {
    /// Whether the error is about the chart reference (name or version) rather than the
    /// repository.
    pub fn is_reference(&self) -> bool {
        matches!(
            self,
            HelmRepoError::NoChart { .. }
                | HelmRepoError::NoVersion { .. }
                | HelmRepoError::InvalidConstraint { .. }
        )
    }

    /// Whether retrying without a spec or Secret change cannot help.
    pub fn is_stalled(&self) -> bool {
        matches!(
            self,
            HelmRepoError::InvalidUrl { .. }
                | HelmRepoError::InvalidSecret(_)
                | HelmRepoError::Tls(_)
                | HelmRepoError::InvalidConstraint { .. }
        )
    }

    /// Flux's condition reason for this error when fetching an index.
    pub fn index_reason(&self) -> &'static str {
        match self {
            HelmRepoError::InvalidUrl { .. } => REASON_URL_INVALID,
            HelmRepoError::InvalidSecret(_) | HelmRepoError::Tls(_) => REASON_AUTHENTICATION_FAILED,
            _ => REASON_INDEXATION_FAILED,
        }
    }
}

/// An HTTP client for one Helm repository.
#[derive(Clone)]
pub struct HelmRepoClient {
    base: Url,
    shown: String,
    client: reqwest::Client,
    auth: HelmRepoAuth,
}

impl fmt::Debug for HelmRepoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HelmRepoClient")
            .field("url", &self.shown)
            .field("auth", &self.auth)
            .finish()
    }
}

/// `url` without userinfo, for messages.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

impl HelmRepoClient {
    /// A client for the repository at `url` (`http://` or `https://`), with `timeout` per
    /// request.
    pub fn new(url: &str, auth: HelmRepoAuth, timeout: Duration) -> Result<Self, HelmRepoError> {
        let invalid = |message: String| HelmRepoError::InvalidUrl {
            url: url.to_string(),
            message,
        };
        let mut base = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "scheme '{}' is not supported, use http or https",
                base.scheme()
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("keelson/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &auth.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| HelmRepoError::Tls(format!("invalid CA certificate: {e}")))?;
            if certs.is_empty() {
                return Err(HelmRepoError::Tls("no PEM certificate in the CA".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some((cert, key)) = &auth.client_cert {
            let mut pem = cert.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| HelmRepoError::Tls(format!("invalid client certificate: {e}")))?;
            builder = builder.identity(identity);
        }
        let client = builder
            .build()
            .map_err(|e| HelmRepoError::Tls(e.to_string()))?;
        Ok(Self {
            shown: redact(&base),
            base,
            client,
            auth,
        })
    }

    /// The repository URL, normalised with a trailing `/` and without credentials.
    pub fn url(&self) -> &str {
        &self.shown
    }

    async fn get(&self, url: &Url) -> Result<Vec<u8>, HelmRepoError> {
        let shown = redact(url);
        let mut request = self.client.get(url.clone());
        let same_origin = url.origin() == self.base.origin();
        if let Some(basic) = &self.auth.basic
            && (same_origin || self.auth.pass_credentials)
        {
            request = request.basic_auth(&basic.username, Some(&basic.password));
        }
        let response = request.send().await.map_err(|e| HelmRepoError::Request {
            url: shown.clone(),
            message: error_chain(&e),
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(HelmRepoError::Status {
                url: shown,
                status: status.to_string(),
            });
        }
        let bytes = response.bytes().await.map_err(|e| HelmRepoError::Request {
            url: shown,
            message: error_chain(&e),
        })?;
        Ok(bytes.to_vec())
    }

    /// Downloads `index.yaml` and parses it.
    pub async fn fetch_index(&self) -> Result<Index, HelmRepoError> {
        let url = self
            .base
            .join("index.yaml")
            .map_err(|e| HelmRepoError::InvalidUrl {
                url: self.shown.clone(),
                message: e.to_string(),
            })?;
        let bytes = self.get(&url).await?;
        Index::parse(&bytes, &redact(&url))
    }

    /// Downloads the archive of `chart` (its first URL, relative to the repository when not
    /// absolute).
    pub async fn download(&self, chart: &ChartVersion) -> Result<Vec<u8>, HelmRepoError> {
        let first = chart.urls.first().ok_or_else(|| HelmRepoError::NoUrl {
            name: chart.name.clone(),
            version: chart.version.clone(),
        })?;
        let url = self
            .base
            .join(first)
            .map_err(|e| HelmRepoError::InvalidUrl {
                url: first.clone(),
                message: e.to_string(),
            })?;
        self.get(&url).await
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// One chart version of an index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartVersion {
    /// The chart name.
    pub name: String,
    /// The version as written in the index.
    pub version: String,
    /// Download URLs, absolute or relative to the repository.
    pub urls: Vec<String>,
    /// `sha256` hex of the archive, when the index has it.
    pub digest: Option<String>,
}

/// A parsed repository index (`apiVersion: v1`, `entries: {name: [versions]}`).
#[derive(Debug, Clone)]
pub struct Index {
    document: Map<String, Value>,
}

impl Index {
    /// Parses an index in YAML (or JSON, a subset of YAML); `origin` names it in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, HelmRepoError> {
        let invalid = |message: String| HelmRepoError::InvalidIndex {
            url: origin.to_string(),
            message,
        };
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(_) => {
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| invalid("the index is not UTF-8".into()))?;
                serde_saphyr::from_str(text).map_err(|e| invalid(e.to_string()))?
            }
        };
        let Value::Object(document) = value else {
            return Err(invalid("the index is not a map".into()));
        };
        if document.get("apiVersion").and_then(Value::as_str).is_none() {
            return Err(invalid("no API version specified".into()));
        }
        if !document.get("entries").is_none_or(Value::is_object) {
            return Err(invalid("'entries' is not a map".into()));
        }
        Ok(Self { document })
    }

    /// The index with entries sorted by chart name and each chart's versions newest first
    /// (unparseable versions last, in their order), as compact JSON — valid YAML that Helm and
    /// keelson read back. Equal indexes give equal bytes.
    pub fn normalised(&self) -> Vec<u8> {
        let mut document = self.document.clone();
        if let Some(Value::Object(entries)) = document.get("entries") {
            let mut names: Vec<&String> = entries.keys().collect();
            names.sort();
            let mut sorted = Map::new();
            for name in names {
                let mut versions = match &entries[name] {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                versions.sort_by(|a, b| {
                    let va = a["version"].as_str().and_then(parse_version);
                    let vb = b["version"].as_str().and_then(parse_version);
                    match (va, vb) {
                        (Some(x), Some(y)) => y.cmp(&x),
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => std::cmp::Ordering::Equal,
                    }
                });
                sorted.insert(name.clone(), Value::Array(versions));
            }
            document.insert("entries".into(), Value::Object(sorted));
        }
        serde_json::to_vec(&Value::Object(document)).unwrap_or_default()
    }

    /// The number of charts and of chart versions in the index.
    pub fn counts(&self) -> (usize, usize) {
        match self.document.get("entries") {
            Some(Value::Object(e)) => (
                e.len(),
                e.values().map(|v| v.as_array().map_or(0, Vec::len)).sum(),
            ),
            _ => (0, 0),
        }
    }

    /// The highest version of chart `name` matching `constraint` (Masterminds syntax; empty
    /// means `*`, the newest stable version).
    pub fn select(&self, name: &str, constraint: &str) -> Result<ChartVersion, HelmRepoError> {
        let constraint = if constraint.trim().is_empty() {
            "*"
        } else {
            constraint.trim()
        };
        let parsed =
            Constraint::parse(constraint).map_err(|e| HelmRepoError::InvalidConstraint {
                constraint: constraint.to_string(),
                message: e.reason,
            })?;
        let versions = self.document["entries"]
            .get(name)
            .and_then(Value::as_array)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| HelmRepoError::NoChart {
                name: name.to_string(),
            })?;
        let mut best: Option<(semver::Version, &Value)> = None;
        for entry in versions {
            let Some(v) = entry["version"].as_str().and_then(parse_version) else {
                continue;
            };
            if !parsed.matches(&v) {
                continue;
            }
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, entry));
            }
        }
        let Some((_, entry)) = best else {
            return Err(HelmRepoError::NoVersion {
                name: name.to_string(),
                constraint: constraint.to_string(),
            });
        };
        Ok(ChartVersion {
            name: entry["name"].as_str().unwrap_or(name).to_string(),
            version: entry["version"].as_str().unwrap_or_default().to_string(),
            urls: entry["urls"]
                .as_array()
                .map(|u| {
                    u.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            digest: entry["digest"].as_str().map(str::to_string),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const INDEX: &str = r#"
apiVersion: v1
entries:
  demo:
  - name: demo
    version: 0.1.0
    urls: [demo-0.1.0.tgz]
  - name: demo
    version: 0.3.0-rc.1
    urls: [demo-0.3.0-rc.1.tgz]
  - name: demo
    version: 0.2.0
    urls: [https://charts.example.com/demo-0.2.0.tgz]
    digest: abc
  alpha:
  - name: alpha
    version: 1.0.0
    urls: [alpha-1.0.0.tgz]
generated: "2026-12-01T00:00:00Z"
"#;

    #[test]
    fn selects_the_highest_match() {
        let index = Index::parse(INDEX.as_bytes(), "test").unwrap();
        let cases = [
            ("", "0.2.0"),
            ("*", "0.2.0"),
            ("<0.2", "0.1.0"),
            ("0.1.0", "0.1.0"),
            (">=0.3.0-0", "0.3.0-rc.1"),
            ("~0.2", "0.2.0"),
        ];
        for (constraint, want) in cases {
            assert_eq!(
                index.select("demo", constraint).unwrap().version,
                want,
                "{constraint}"
            );
        }
        let err = index.select("demo", "9.9.9").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no 'demo' chart with version matching '9.9.9' found"
        );
        assert!(err.is_reference());
        assert_eq!(
            index.select("nope", "*").unwrap_err().to_string(),
            "no chart name found"
        );
        let chosen = index.select("demo", "0.2.0").unwrap();
        assert_eq!(chosen.digest.as_deref(), Some("abc"));
        assert_eq!(index.counts(), (2, 4));
    }

    #[test]
    fn normalised_is_stable_and_readable() {
        let index = Index::parse(INDEX.as_bytes(), "test").unwrap();
        let bytes = index.normalised();
        let again = Index::parse(&bytes, "stored").unwrap();
        assert_eq!(again.normalised(), bytes);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let names: Vec<&String> = v["entries"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["alpha", "demo"]);
        assert_eq!(v["entries"]["demo"][0]["version"], "0.3.0-rc.1");
        assert_eq!(v["entries"]["demo"][2]["version"], "0.1.0");
        assert!(Index::parse(b"entries: {}", "x").is_err());
    }

    #[test]
    fn secrets_and_debug() {
        let mut data = BTreeMap::new();
        data.insert("username".to_string(), b"u".to_vec());
        data.insert("password".to_string(), b"s3cret-pw".to_vec());
        let auth = HelmRepoAuth::from_secrets(Some(&data), None).unwrap();
        assert!(!format!("{auth:?}").contains("s3cret-pw"));
        data.remove("password");
        assert!(HelmRepoAuth::from_secrets(Some(&data), None).is_err());
        let mut certs = BTreeMap::new();
        certs.insert("tls.crt".to_string(), b"x".to_vec());
        assert!(HelmRepoAuth::from_secrets(None, Some(&certs)).is_err());
    }

    #[test]
    fn relative_and_absolute_chart_urls() {
        let client = HelmRepoClient::new(
            "http://127.0.0.1:1/charts",
            HelmRepoAuth::default(),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(client.url(), "http://127.0.0.1:1/charts/");
        let base = &client.base;
        assert_eq!(
            base.join("demo-0.1.0.tgz").unwrap().as_str(),
            "http://127.0.0.1:1/charts/demo-0.1.0.tgz"
        );
        assert!(HelmRepoClient::new("oci://x/y", HelmRepoAuth::default(), Duration::ZERO).is_err());
    }
}
