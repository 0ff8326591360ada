//! Pulling artifacts from OCI registries, as Flux's OCIRepository does.
//!
//! An [`OciRepo`] is a parsed `oci://<registry>/<repository>` URL plus the client settings
//! (plain HTTP for `insecure`, extra CA certificates, credentials from a
//! `kubernetes.io/dockerconfigjson` Secret). [`OciRepo::resolve`] turns a reference (digest,
//! semver range over the tag list, tag, or `latest`) into a [`Resolved`] with Flux's revision
//! string `<tag>@sha256:<manifest digest>` (or the bare digest for digest references), and
//! [`OciRepo::pull_layer`] downloads the selected layer of the manifest with that digest.
//! The registry protocol is spoken by the `oci-client` crate.

use std::collections::BTreeMap;

use base64::Engine as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::semver::{Constraint, parse_version};

/// The media type of a Helm chart's content layer.
pub const HELM_CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// The URL scheme of OCI repositories.
pub const OCI_SCHEME: &str = "oci://";

/// Why an OCI operation failed. The messages follow Flux's where Flux has one.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The URL is not `oci://<domain>/<org>/<repo>` or names a tag.
    #[error("{0}")]
    InvalidUrl(String),
    /// The credentials Secret could not be used.
    #[error("{0}")]
    Credentials(String),
    /// The semver range does not parse.
    #[error("semver '{expression}' parse error: {reason}")]
    Semver {
        /// The range.
        expression: String,
        /// The parser's complaint.
        reason: String,
    },
    /// `semverFilter` is not a valid regular expression.
    #[error("failed to compile regex {pattern}: {reason}")]
    Filter {
        /// The expression.
        pattern: String,
        /// The compiler's complaint.
        reason: String,
    },
    /// No tag matches the semver range.
    #[error("no match found for semver: {0}")]
    NoMatch(String),
    /// A registry request failed.
    #[error("{0}")]
    Registry(#[from] oci_client::errors::OciDistributionError),
    /// The manifest has no layers.
    #[error("no layers found in artifact")]
    NoLayers,
    /// No layer has the selected media type.
    #[error("failed to find layer with media type '{0}' in artifact")]
    NoLayerWithMediaType(String),
    /// The request timed out.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
}

/// A parsed OCI repository address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciUrl {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path below the registry (`org/repo`).
    pub repository: String,
}

/// Parses `oci://<registry>/<repository>` as Flux does: the scheme is required, the
/// repository path is required and must not carry a tag.
pub fn parse_url(url: &str) -> Result<OciUrl, OciError> {
    let rest = url.strip_prefix(OCI_SCHEME).ok_or_else(|| {
        OciError::InvalidUrl("URL must be in format 'oci://<domain>/<org>/<repo>'".into())
    })?;
    let rest = rest.trim_end_matches('/');
    let Some((registry, repository)) = rest.split_once('/') else {
        return Err(OciError::InvalidUrl(format!(
            "repository must be in format '<domain>/<org>/<repo>': '{rest}'"
        )));
    };
    if registry.is_empty() || repository.is_empty() {
        return Err(OciError::InvalidUrl(
            "URL must be in format 'oci://<domain>/<org>/<repo>'".into(),
        ));
    }
    if let Some((_, tag)) = repository.split_once(':') {
        return Err(OciError::InvalidUrl(format!(
            "URL must not contain a tag; remove ':{tag}'"
        )));
    }
    let valid = repository.split('/').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    });
    if !valid {
        return Err(OciError::InvalidUrl(format!(
            "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: {repository}"
        )));
    }
    Ok(OciUrl {
        registry: registry.to_string(),
        repository: repository.to_string(),
    })
}

/// Credentials for `registry` from the `.dockerconfigjson` of a Secret: the `auths` entry whose
/// key names the registry (with or without a scheme), by `auth` (base64 `user:password`) or
/// `username`/`password`. `None` when no entry matches (anonymous access).
pub fn docker_config_auth(
    data: &BTreeMap<String, Vec<u8>>,
    registry: &str,
) -> Result<Option<(String, String)>, OciError> {
    let raw = data
        .get(".dockerconfigjson")
        .or_else(|| data.get(".dockercfg"))
        .ok_or_else(|| {
            OciError::Credentials("secret does not contain a '.dockerconfigjson' key".into())
        })?;
    let config: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| OciError::Credentials(format!("failed to parse '.dockerconfigjson': {e}")))?;
    let auths = config.get("auths").unwrap_or(&config);
    let Some(auths) = auths.as_object() else {
        return Ok(None);
    };
    for (key, entry) in auths {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let host = host.split('/').next().unwrap_or(host);
        if host != registry {
            continue;
        }
        if let Some(auth) = entry.get("auth").and_then(|a| a.as_str())
            && !auth.is_empty()
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| {
                    OciError::Credentials(format!("invalid base64 'auth' for registry '{key}'"))
                })?;
            let text = String::from_utf8_lossy(&decoded).into_owned();
            let (user, pass) = text.split_once(':').ok_or_else(|| {
                OciError::Credentials(format!("invalid 'auth' for registry '{key}'"))
            })?;
            return Ok(Some((user.to_string(), pass.to_string())));
        }
        let user = entry.get("username").and_then(|u| u.as_str());
        let pass = entry.get("password").and_then(|p| p.as_str());
        if let (Some(user), Some(pass)) = (user, pass) {
            return Ok(Some((user.to_string(), pass.to_string())));
        }
    }
    Ok(None)
}

/// Which artifact to pull (`spec.ref`); precedence digest, semver, tag, then `latest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OciRef {
    /// `sha256:<hex>`.
    pub digest: Option<String>,
    /// A semver range over the repository's tags.
    pub semver: Option<String>,
    /// A regular expression tags must match before the semver selection.
    pub semver_filter: Option<String>,
    /// A tag.
    pub tag: Option<String>,
}

/// A resolved reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The tag, unless a digest was asked for.
    pub tag: Option<String>,
    /// The manifest digest, `sha256:<hex>`.
    pub digest: String,
}

impl Resolved {
    /// Flux's revision: `<tag>@<digest>`, or the digest alone.
    pub fn revision(&self) -> String {
        match &self.tag {
            Some(tag) => format!("{tag}@{}", self.digest),
            None => self.digest.clone(),
        }
    }
}

/// A client for one OCI repository.
pub struct OciRepo {
    client: Client,
    auth: RegistryAuth,
    url: OciUrl,
    timeout: std::time::Duration,
}

impl std::fmt::Debug for OciRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciRepo")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl OciRepo {
    /// A client for `url`; `insecure` speaks plain HTTP, `ca_pem` is trusted besides the
    /// system roots, `credentials` are sent with basic (or token) authentication.
    pub fn new(
        url: OciUrl,
        insecure: bool,
        ca_pem: Option<Vec<u8>>,
        credentials: Option<(String, String)>,
        timeout: std::time::Duration,
    ) -> Self {
        let config = ClientConfig {
            protocol: if insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: ca_pem
                .into_iter()
                .map(|data| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data,
                })
                .collect(),
            connect_timeout: Some(timeout),
            read_timeout: Some(timeout),
            ..ClientConfig::default()
        };
        let auth = match credentials {
            Some((user, pass)) => RegistryAuth::Basic(user, pass),
            None => RegistryAuth::Anonymous,
        };
        Self {
            client: Client::new(config),
            auth,
            url,
            timeout,
        }
    }

    /// The repository address.
    pub fn url(&self) -> &OciUrl {
        &self.url
    }

    fn reference(&self, tag: Option<&str>, digest: Option<&str>) -> Reference {
        let (registry, repository) = (self.url.registry.clone(), self.url.repository.clone());
        match (tag, digest) {
            (_, Some(d)) => Reference::with_digest(registry, repository, d.to_string()),
            (Some(t), None) => Reference::with_tag(registry, repository, t.to_string()),
            (None, None) => Reference::with_tag(registry, repository, "latest".into()),
        }
    }

    async fn timed<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, OciError>>,
    ) -> Result<T, OciError> {
        match tokio::time::timeout(self.timeout, future).await {
            Ok(result) => result,
            Err(_) => Err(OciError::Timeout(self.timeout)),
        }
    }

    /// All tags of the repository (following pagination).
    pub async fn tags(&self) -> Result<Vec<String>, OciError> {
        let reference = self.reference(None, None);
        self.timed(async {
            let mut all = Vec::new();
            let mut last: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list_tags(&reference, &self.auth, Some(1000), last.as_deref())
                    .await?;
                let done = page.tags.len() < 1000;
                last = page.tags.last().cloned();
                all.extend(page.tags);
                if done || last.is_none() {
                    return Ok(all);
                }
            }
        })
        .await
    }

    /// The tag `spec.ref` selects: the highest tag matching the semver range (after the
    /// filter; for Helm chart layers `_` in tags stands for `+`), else the tag, else `latest`.
    /// `None` for a digest reference.
    pub async fn select_tag(
        &self,
        reference: &OciRef,
        layer_media_type: Option<&str>,
    ) -> Result<Option<String>, OciError> {
        if reference.digest.as_deref().is_some_and(|d| !d.is_empty()) {
            return Ok(None);
        }
        if let Some(expression) = reference.semver.as_deref().filter(|s| !s.is_empty()) {
            let tags = self.tags().await?;
            let filter = match reference.semver_filter.as_deref().filter(|s| !s.is_empty()) {
                Some(pattern) => {
                    Some(regex::Regex::new(pattern).map_err(|e| OciError::Filter {
                        pattern: pattern.to_string(),
                        reason: e.to_string(),
                    })?)
                }
                None => None,
            };
            return select_semver(
                &tags,
                expression,
                filter.as_ref(),
                layer_media_type == Some(HELM_CHART_LAYER_MEDIA_TYPE),
            )
            .map(Some);
        }
        Ok(Some(
            reference
                .tag
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "latest".into()),
        ))
    }

    /// Resolves `reference` to a tag and manifest digest (a HEAD request for tags).
    pub async fn resolve(
        &self,
        reference: &OciRef,
        layer_media_type: Option<&str>,
    ) -> Result<Resolved, OciError> {
        let tag = self.select_tag(reference, layer_media_type).await?;
        match tag {
            None => Ok(Resolved {
                tag: None,
                digest: reference.digest.clone().unwrap_or_default(),
            }),
            Some(tag) => {
                let image = self.reference(Some(&tag), None);
                let digest = self
                    .timed(async {
                        Ok(self
                            .client
                            .fetch_manifest_digest(&image, &self.auth)
                            .await?)
                    })
                    .await?;
                Ok(Resolved {
                    tag: Some(tag),
                    digest,
                })
            }
        }
    }

    /// The image manifest with `digest`.
    pub async fn manifest(&self, digest: &str) -> Result<OciImageManifest, OciError> {
        let image = self.reference(None, Some(digest));
        self.timed(async {
            let (manifest, _) = self.client.pull_image_manifest(&image, &self.auth).await?;
            Ok(manifest)
        })
        .await
    }

    /// Downloads the layer of `manifest` with `media_type` (the first layer when `None`).
    pub async fn pull_layer(
        &self,
        manifest: &OciImageManifest,
        media_type: Option<&str>,
    ) -> Result<Vec<u8>, OciError> {
        let layer = select_layer(manifest, media_type)?;
        let image = self.reference(None, Some(&layer.digest));
        self.timed(async {
            let mut out = Vec::with_capacity(usize::try_from(layer.size).unwrap_or(0));
            self.client.pull_blob(&image, layer, &mut out).await?;
            Ok(out)
        })
        .await
    }
}

/// The layer Flux selects: the first with `media_type`, or the first layer.
pub fn select_layer<'a>(
    manifest: &'a OciImageManifest,
    media_type: Option<&str>,
) -> Result<&'a oci_client::manifest::OciDescriptor, OciError> {
    if manifest.layers.is_empty() {
        return Err(OciError::NoLayers);
    }
    match media_type.filter(|m| !m.is_empty()) {
        Some(m) => manifest
            .layers
            .iter()
            .find(|l| l.media_type == m)
            .ok_or_else(|| OciError::NoLayerWithMediaType(m.to_string())),
        None => Ok(&manifest.layers[0]),
    }
}

/// The highest tag satisfying `expression` among `tags` (those matching `filter`), returned as
/// the tag is spelled. With `helm_tags`, `_` in a tag is read as `+` (Helm's OCI convention).
pub fn select_semver(
    tags: &[String],
    expression: &str,
    filter: Option<&regex::Regex>,
    helm_tags: bool,
) -> Result<String, OciError> {
    let constraint = Constraint::parse(expression).map_err(|e| OciError::Semver {
        expression: expression.to_string(),
        reason: e.to_string(),
    })?;
    let mut best: Option<(semver::Version, &String)> = None;
    for tag in tags {
        if filter.is_some_and(|f| !f.is_match(tag)) {
            continue;
        }
        let spelled = if helm_tags {
            tag.replace('_', "+")
        } else {
            tag.clone()
        };
        let Some(version) = parse_version(&spelled) else {
            continue;
        };
        if !constraint.matches(&version) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(b, _)| version.cmp_precedence(b) == std::cmp::Ordering::Greater)
        {
            best = Some((version, tag));
        }
    }
    best.map(|(_, tag)| tag.clone())
        .ok_or_else(|| OciError::NoMatch(expression.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_like_flux() {
        let url = parse_url("oci://127.0.0.1:5000/charts/demo").expect("valid");
        assert_eq!(url.registry, "127.0.0.1:5000");
        assert_eq!(url.repository, "charts/demo");
        assert!(parse_url("https://ghcr.io/a/b").is_err());
        let err = parse_url("oci://ghcr.io/a/b:1.0").expect_err("tag");
        assert_eq!(err.to_string(), "URL must not contain a tag; remove ':1.0'");
        assert!(parse_url("oci://ghcr.io").is_err());
        assert!(parse_url("oci://ghcr.io/A/b").is_err());
    }

    #[test]
    fn semver_picks_the_highest_matching_tag() {
        let tags: Vec<String> = ["0.1.0", "0.2.0", "0.10.0", "1.0.0-rc.1", "latest", "v0.3.0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            select_semver(&tags, "<1.0.0", None, false).unwrap(),
            "0.10.0"
        );
        assert_eq!(select_semver(&tags, "~0.2", None, false).unwrap(), "0.2.0");
        let filter = regex::Regex::new("^v").unwrap();
        assert_eq!(
            select_semver(&tags, "*", Some(&filter), false).unwrap(),
            "v0.3.0"
        );
        let err = select_semver(&tags, ">=2.0.0", None, false).unwrap_err();
        assert_eq!(err.to_string(), "no match found for semver: >=2.0.0");
        let helm: Vec<String> = vec!["1.0.0_build.2".into(), "0.9.0".into()];
        assert_eq!(
            select_semver(&helm, ">=1.0.0", None, true).unwrap(),
            "1.0.0_build.2"
        );
    }

    #[test]
    fn docker_config_credentials_match_the_registry() {
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        let json = format!(
            r#"{{"auths":{{"https://127.0.0.1:5000":{{"auth":"{auth}"}},"other:1":{{"username":"u","password":"p"}}}}}}"#
        );
        let data = BTreeMap::from([(".dockerconfigjson".to_string(), json.into_bytes())]);
        assert_eq!(
            docker_config_auth(&data, "127.0.0.1:5000").unwrap(),
            Some(("alice".into(), "s3cret".into()))
        );
        assert_eq!(
            docker_config_auth(&data, "other:1").unwrap(),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(docker_config_auth(&data, "third").unwrap(), None);
        assert!(docker_config_auth(&BTreeMap::new(), "x").is_err());
    }
}
