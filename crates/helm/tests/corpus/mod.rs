//! The cases of the corpus differential test: every chart of `corpus/charts` with its default
//! values and each `<chart>-values/` file, and the inline values of every HelmRelease in
//! `corpus/flux-repos` whose chart is in the corpus.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value as J;

/// One render: a corpus chart with one value set.
pub struct Case {
    /// The corpus chart folder name.
    pub chart: String,
    /// The values file (`None`: the chart's defaults).
    pub values: Option<PathBuf>,
    /// How the case is named in reports and the known-failures list.
    pub id: String,
    /// The release name.
    pub release: String,
}

/// Every chart folder of MANIFEST.tsv.
pub fn charts(charts: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(charts.join("MANIFEST.tsv")).unwrap();
    manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// The chart defaults and the corpus value sets.
pub fn value_set_cases(charts_dir: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    for chart in charts(charts_dir) {
        out.push(Case {
            id: format!("{chart}:default"),
            chart: chart.clone(),
            values: None,
            release: "release".into(),
        });
        if let Ok(rd) = std::fs::read_dir(charts_dir.join(format!("{chart}-values"))) {
            let mut files: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
            files.sort();
            for f in files {
                out.push(Case {
                    id: format!("{chart}:{}", f.file_name().unwrap().to_string_lossy()),
                    chart: chart.clone(),
                    values: Some(f),
                    release: "release".into(),
                });
            }
        }
    }
    out
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// `${VAR}` and `${VAR:=default}` (Flux postBuild substitution, whose variables live in
/// cluster Secrets/ConfigMaps that are not in git): the default, or a fixed placeholder.
fn substitute(text: &str) -> String {
    let re = regex::Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::=([^}]*))?\}").unwrap();
    re.replace_all(text, |c: &regex::Captures| match c.get(2) {
        Some(d) => d.as_str().to_string(),
        None => format!("subst-{}", c[1].to_lowercase().replace('_', "-")),
    })
    .into_owned()
}

/// What the HelmRelease scan found, for the report.
#[derive(Default)]
pub struct ReleaseScan {
    /// HelmReleases seen.
    pub seen: usize,
    /// Skipped because they read `valuesFrom` (cluster Secrets/ConfigMaps).
    pub values_from: Vec<String>,
    /// Skipped because their chart is not in the corpus, by chart name.
    pub other_chart: BTreeMap<String, usize>,
    /// Same chart and values as another case.
    pub duplicates: usize,
}

/// The HelmRelease cases: inline `spec.values` (after placeholder substitution) written as
/// JSON files into `work`.
pub fn release_cases(corpus: &Path, charts_dir: &Path, work: &Path) -> (Vec<Case>, ReleaseScan) {
    let names = chart_names(charts_dir);
    let mut scan = ReleaseScan::default();
    let mut cases = Vec::new();
    let mut seen_values: BTreeSet<(String, String)> = BTreeSet::new();
    let repos_dir = corpus.join("flux-repos");
    let mut repos: Vec<PathBuf> = std::fs::read_dir(&repos_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    repos.sort();
    std::fs::create_dir_all(work).unwrap();
    for repo in repos {
        let repo_name = repo.file_name().unwrap().to_string_lossy().to_string();
        let mut files = Vec::new();
        yaml_files(&repo, &mut files);
        let mut docs: Vec<(PathBuf, J)> = Vec::new();
        for f in &files {
            let Ok(text) = std::fs::read_to_string(f) else {
                continue;
            };
            if !text.contains("kind: HelmRelease") && !text.contains("kind: OCIRepository") {
                continue;
            }
            let text = substitute(&text);
            let Ok(parsed) = keelson_helm::yaml::parse_all(&text) else {
                continue;
            };
            for d in parsed {
                docs.push((f.clone(), keelson_helm::json::to_serde(&d)));
            }
        }
        // OCIRepository name -> chart name (the last segment of its URL)
        let oci: BTreeMap<String, String> = docs
            .iter()
            .filter(|(_, d)| d["kind"] == "OCIRepository")
            .filter_map(|(_, d)| {
                let name = d.pointer("/metadata/name")?.as_str()?.to_string();
                let url = d.pointer("/spec/url")?.as_str()?;
                Some((name, url.rsplit('/').next()?.to_string()))
            })
            .collect();
        for (file, d) in &docs {
            if d["kind"] != "HelmRelease" {
                continue;
            }
            scan.seen += 1;
            let name = d
                .pointer("/metadata/name")
                .and_then(J::as_str)
                .unwrap_or("release")
                .to_string();
            let chart_name = if let Some(c) =
                d.pointer("/spec/chart/spec/chart").and_then(J::as_str)
            {
                Some(c.rsplit('/').next().unwrap_or(c).to_string())
            } else if d.pointer("/spec/chartRef/kind").and_then(J::as_str) == Some("OCIRepository")
            {
                d.pointer("/spec/chartRef/name")
                    .and_then(J::as_str)
                    .and_then(|n| oci.get(n).cloned())
            } else {
                None
            };
            let Some(chart_name) = chart_name else {
                *scan.other_chart.entry("<unresolved>".into()).or_default() += 1;
                continue;
            };
            let Some(folder) = names.get(&chart_name) else {
                *scan.other_chart.entry(chart_name).or_default() += 1;
                continue;
            };
            let rel = file.strip_prefix(&repos_dir).unwrap().display().to_string();
            if d.pointer("/spec/valuesFrom")
                .and_then(J::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                scan.values_from.push(format!("{rel} ({name})"));
                continue;
            }
            let values = d
                .pointer("/spec/values")
                .cloned()
                .unwrap_or(J::Object(Default::default()));
            let text = serde_json::to_string_pretty(&values).unwrap();
            if !seen_values.insert((folder.clone(), text.clone())) {
                scan.duplicates += 1;
                continue;
            }
            let path = work.join(format!("{}-{name}.json", cases.len()));
            std::fs::write(&path, &text).unwrap();
            cases.push(Case {
                id: format!("{folder}:hr:{repo_name}/{name}"),
                chart: folder.clone(),
                values: Some(path),
                release: name,
            });
        }
        let _ = &repo_name;
    }
    (cases, scan)
}

/// Chart names (folder name and `Chart.yaml` name) -> corpus folder.
fn chart_names(charts_dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in charts(charts_dir) {
        if let Ok(text) = std::fs::read_to_string(charts_dir.join(&c).join("Chart.yaml"))
            && let Ok(v) = keelson_helm::yaml::parse(&text)
            && let Some(m) = v.as_map()
            && let Some(keelson_helm::value::Value::Str(n)) = m.get("name")
        {
            out.entry(n.to_string()).or_insert_with(|| c.clone());
        }
        out.insert(c.clone(), c);
    }
    out
}

/// The inline values of every HelmRelease in `corpus/flux-repos` (any chart), after placeholder
/// substitution, without duplicates: `(repo/name, values)`.
pub fn all_release_values(corpus: &Path) -> Vec<(String, J)> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut files = Vec::new();
    yaml_files(&corpus.join("flux-repos"), &mut files);
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        if !text.contains("kind: HelmRelease") {
            continue;
        }
        let Ok(parsed) = keelson_helm::yaml::parse_all(&substitute(&text)) else {
            continue;
        };
        for d in parsed {
            let d = keelson_helm::json::to_serde(&d);
            if d["kind"] != "HelmRelease" {
                continue;
            }
            let Some(values) = d.pointer("/spec/values").filter(|v| v.is_object()) else {
                continue;
            };
            if !seen.insert(values.to_string()) {
                continue;
            }
            let rel = f
                .strip_prefix(corpus.join("flux-repos"))
                .unwrap()
                .display()
                .to_string();
            out.push((rel, values.clone()));
        }
    }
    out
}
