//! Helm's release record (`helm.sh/helm/v4/pkg/release/v1.Release`) with its JSON field names,
//! and the encoding the storage drivers use: `base64(gzip(json))`.
//!
//! Fields keelson does not interpret are kept (`extra`), so a release written by the helm CLI
//! and updated by keelson (e.g. marked superseded) loses nothing.

use std::io::{Read, Write};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The status of a release, as Helm writes it.
pub mod status {
    /// The release is the deployed one.
    pub const DEPLOYED: &str = "deployed";
    /// A newer release replaced this one.
    pub const SUPERSEDED: &str = "superseded";
    /// The release failed.
    pub const FAILED: &str = "failed";
    /// The release was uninstalled (history kept).
    pub const UNINSTALLED: &str = "uninstalled";
    /// An uninstall is under way.
    pub const UNINSTALLING: &str = "uninstalling";
    /// An install is under way.
    pub const PENDING_INSTALL: &str = "pending-install";
    /// An upgrade is under way.
    pub const PENDING_UPGRADE: &str = "pending-upgrade";
    /// A rollback is under way.
    pub const PENDING_ROLLBACK: &str = "pending-rollback";
    /// The state is unknown.
    pub const UNKNOWN: &str = "unknown";
}

/// One version of a release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// Release name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Status, times and notes.
    #[serde(default)]
    pub info: Info,
    /// The chart released (Helm's `chart.Chart` JSON: metadata, templates, values, files).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub chart: Value,
    /// The user-supplied values (what `helm get values` prints).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    /// The rendered manifests (without hooks and CRDs), `---\n# Source: …` separated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// The hooks of the release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    /// The revision.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
    /// The namespace the release is installed into.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// `ssa` or `csa`: how the objects were applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_method: Option<String>,
    /// Fields keelson does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Release information.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// When the release was first deployed (RFC 3339).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub first_deployed: Option<String>,
    /// When this version was deployed (RFC 3339).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub last_deployed: Option<String>,
    /// When the release was deleted (RFC 3339).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub deleted: Option<String>,
    /// A human-friendly log entry ("Install complete").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// See [`status`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The revision rolled back to (0: not a rollback).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rollback_revision: i64,
    /// The rendered NOTES.txt.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Fields keelson does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A hook of a release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    /// The object's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The object's kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The template the hook came from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The manifest of the hook object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// The events the hook runs on (`pre-install`, `post-upgrade`, `test`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// The last execution.
    #[serde(default)]
    pub last_run: HookExecution,
    /// Order among hooks of the same event (lower first).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight: i64,
    /// `before-hook-creation`, `hook-succeeded`, `hook-failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_policies: Vec<String>,
    /// When hook logs are copied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_log_policies: Vec<String>,
}

/// The last execution of a hook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HookExecution {
    /// When it started (RFC 3339).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub started_at: Option<String>,
    /// When it completed (RFC 3339).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub completed_at: Option<String>,
    /// `Unknown`, `Running`, `Succeeded`, `Failed` (empty when it never ran).
    #[serde(default)]
    pub phase: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(d)?;
    Ok(value.filter(|s| !s.is_empty()))
}

/// A release that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The data is not base64.
    #[error("failed to decode release data: not base64")]
    Base64(#[source] base64::DecodeError),
    /// The gzip stream is broken.
    #[error("failed to decompress release data")]
    Gzip(#[source] std::io::Error),
    /// The JSON is not a release.
    #[error("failed to parse release JSON")]
    Json(#[source] serde_json::Error),
}

/// Encodes a release as Helm's storage drivers do: JSON, gzip (best compression), base64.
pub fn encode(release: &Release) -> Result<String, CodecError> {
    let json = serde_json::to_vec(release).map_err(CodecError::Json)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&json).map_err(CodecError::Gzip)?;
    let bytes = gz.finish().map_err(CodecError::Gzip)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Decodes what [`encode`] (or Helm) wrote; plain (not gzipped) JSON is accepted too, as Helm
/// does.
pub fn decode(data: &[u8]) -> Result<Release, CodecError> {
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(CodecError::Base64)?;
    let json = if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(CodecError::Gzip)?;
        out
    } else {
        bytes
    };
    serde_json::from_slice(&json).map_err(CodecError::Json)
}

impl Release {
    /// The chart's name from the stored chart metadata.
    pub fn chart_name(&self) -> &str {
        self.chart["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// The chart's version from the stored chart metadata.
    pub fn chart_version(&self) -> &str {
        self.chart["metadata"]["version"]
            .as_str()
            .unwrap_or_default()
    }

    /// The chart's appVersion from the stored chart metadata.
    pub fn app_version(&self) -> &str {
        self.chart["metadata"]["appVersion"]
            .as_str()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn encodes_and_decodes_with_unknown_fields_kept() {
        let json = serde_json::json!({
            "name": "web", "version": 2, "namespace": "apps",
            "info": {"status": "deployed", "first_deployed": "2026-01-01T00:00:00Z",
                     "last_deployed": "", "description": "Upgrade complete", "resources": {"x": []}},
            "chart": {"metadata": {"name": "podinfo", "version": "6.7.0"}},
            "config": {"replicaCount": 2},
            "manifest": "---\n# Source: podinfo/templates/cm.yaml\nkind: ConfigMap\n",
            "hooks": [{"name": "h", "kind": "Job", "events": ["pre-install"], "last_run": {"phase": ""}}],
            "future_field": true
        });
        let release: Release = serde_json::from_value(json).unwrap();
        assert_eq!(release.info.last_deployed, None);
        assert_eq!(release.chart_name(), "podinfo");
        assert!(release.extra.contains_key("future_field"));
        assert!(release.info.extra.contains_key("resources"));
        let back = decode(encode(&release).unwrap().as_bytes()).unwrap();
        assert_eq!(back, release);
    }
}
