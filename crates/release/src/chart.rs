//! Charts from packaged `.tgz` archives: the files for the renderer, and the chart as Helm's
//! release record stores it (`chart.Chart` JSON: metadata, lock, templates, values, schema,
//! files; subcharts are not stored, as in Helm).

use std::io::Read;

use base64::Engine;
use serde_json::{Map, Value, json};

/// A chart archive that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The archive is not a gzipped tar.
    #[error("failed to read chart archive {origin}")]
    Archive {
        /// Where the archive came from.
        origin: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The archive has no chart in it.
    #[error("chart archive {origin} holds no Chart.yaml")]
    Empty {
        /// Where the archive came from.
        origin: String,
    },
    /// The chart's files are invalid.
    #[error("failed to load chart {origin}")]
    Load {
        /// Where the archive came from.
        origin: String,
        /// The cause.
        #[source]
        source: keelson_helm::chart::LoadError,
    },
}

/// A chart loaded from an archive: the renderer's chart and the JSON stored in releases.
pub struct LoadedChart {
    /// The chart, ready for [`keelson_helm::render::render`].
    pub chart: keelson_helm::chart::Chart,
    /// Helm's JSON form of the (top-level) chart.
    pub json: Value,
    /// The files of the chart, relative to its root (packaged subcharts unpacked).
    pub files: Vec<(String, Vec<u8>)>,
}

impl LoadedChart {
    /// The chart's name.
    pub fn name(&self) -> String {
        self.chart.name()
    }

    /// The chart's version.
    pub fn version(&self) -> String {
        self.chart.version()
    }
}

/// The files of a `.tgz` chart archive, relative to the chart's root directory; packaged
/// subcharts (`charts/x.tgz`) are unpacked into `charts/<name>/`.
pub fn unpack(origin: &str, bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ChartError> {
    let err = |source| ChartError::Archive {
        origin: origin.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut raw = Vec::new();
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(err)?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(err)?;
        raw.push((path, data));
    }
    // Every file sits under the chart's directory (`podinfo/Chart.yaml`); strip it.
    let Some(top) = raw
        .iter()
        .filter_map(|(p, _)| p.strip_suffix("/Chart.yaml"))
        .min_by_key(|p| p.len())
        .map(|p| format!("{p}/"))
    else {
        return Err(ChartError::Empty {
            origin: origin.to_string(),
        });
    };
    let mut files = Vec::with_capacity(raw.len());
    for (path, data) in raw {
        let Some(rel) = path.strip_prefix(&top) else {
            continue;
        };
        let packaged_subchart = rel
            .strip_prefix("charts/")
            .is_some_and(|r| !r.contains('/') && (r.ends_with(".tgz") || r.ends_with(".tar.gz")));
        if packaged_subchart {
            let sub = unpack(&format!("{origin}/{rel}"), &data)?;
            let name = sub
                .iter()
                .find(|(p, _)| p == "Chart.yaml")
                .and_then(|(_, d)| keelson_manifest::parse_value(&String::from_utf8_lossy(d)).ok())
                .and_then(|v| v["name"].as_str().map(str::to_string))
                .unwrap_or_else(|| rel.trim_start_matches("charts/").to_string());
            files.extend(
                sub.into_iter()
                    .map(|(p, d)| (format!("charts/{name}/{p}"), d)),
            );
        } else {
            files.push((rel.to_string(), data));
        }
    }
    Ok(files)
}

/// Loads a chart archive.
pub fn load(origin: &str, bytes: &[u8]) -> Result<LoadedChart, ChartError> {
    let files = unpack(origin, bytes)?;
    let chart = keelson_helm::chart::load_files(origin, files.clone()).map_err(|source| {
        ChartError::Load {
            origin: origin.to_string(),
            source,
        }
    })?;
    let json = chart_json(&files);
    Ok(LoadedChart { chart, json, files })
}

fn yaml(data: &[u8]) -> Value {
    keelson_manifest::parse_value(&String::from_utf8_lossy(data)).unwrap_or(Value::Null)
}

/// Helm's JSON form of a chart (`helm.sh/helm/v4/pkg/chart/v2.Chart`): byte fields base64,
/// subcharts left out.
pub fn chart_json(files: &[(String, Vec<u8>)]) -> Value {
    let b64 = |d: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(d));
    let mut metadata = Value::Null;
    let mut lock = Value::Null;
    let mut values = Value::Object(Map::new());
    let mut schema = Value::Null;
    let mut templates = Vec::new();
    let mut others = Vec::new();
    for (name, data) in files {
        match name.as_str() {
            "Chart.yaml" => metadata = yaml(data),
            "Chart.lock" | "requirements.lock" => lock = yaml(data),
            "values.yaml" => {
                let v = yaml(data);
                if v.is_object() {
                    values = v;
                }
            }
            "values.schema.json" => schema = b64(data),
            "requirements.yaml" => {}
            n if n.starts_with("templates/") => {
                templates.push(json!({"name": name, "data": b64(data)}));
            }
            n if n.starts_with("charts/") => {}
            _ => others.push(json!({"name": name, "data": b64(data)})),
        }
    }
    json!({
        "metadata": metadata,
        "lock": lock,
        "templates": templates,
        "values": values,
        "schema": schema,
        "schemamodtime": "0001-01-01T00:00:00Z",
        "files": others,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, content.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn loads_a_packaged_chart_with_a_packaged_subchart() {
        let sub = tgz(&[
            (
                "sub/Chart.yaml",
                "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
            ),
            ("sub/templates/cm.yaml", "kind: ConfigMap\n"),
        ]);
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, content) in [
            (
                "app/Chart.yaml",
                "apiVersion: v2\nname: app\nversion: 1.2.3\n".as_bytes(),
            ),
            ("app/values.yaml", "replicas: 1\n".as_bytes()),
            ("app/templates/a.yaml", "kind: ConfigMap\n".as_bytes()),
            ("app/README.md", "hi".as_bytes()),
            ("app/charts/sub-0.1.0.tgz", sub.as_slice()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, content).unwrap();
        }
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        let loaded = load("app.tgz", &bytes).unwrap();
        assert_eq!(loaded.name(), "app");
        assert_eq!(loaded.version(), "1.2.3");
        assert_eq!(loaded.chart.subcharts.len(), 1);
        assert_eq!(loaded.json["metadata"]["name"], "app");
        assert_eq!(loaded.json["values"]["replicas"], 1);
        assert_eq!(loaded.json["templates"][0]["name"], "templates/a.yaml");
        assert_eq!(loaded.json["files"][0]["name"], "README.md");
    }
}
