//! HelmReleases rendered with the helm engine, as helm-controller would install them.
//!
//! A release is rendered when its chart is at hand offline:
//! - `spec.chart.spec` (or `spec.chartRef` to a HelmChart of the cluster) reading the
//!   GitRepository the cluster's entry points read — this repository — with `chart` a path in
//!   it holding a `Chart.yaml`;
//! - the same reading a HelmRepository, when the chart cache (`--chart-cache DIR`, packaged
//!   `<name>-<version>.tgz` files as Helm's repository cache keeps them) holds a version
//!   matching `version` (the highest wins, as source-controller picks it).
//!
//! Values as helm-controller composes them: `valuesFiles` replacing the chart's `values.yaml`
//! (relative to the chart, else to the source root), each `valuesFrom` ConfigMap/Secret found
//! in the cluster's output or the repository, then `spec.values`. The release name and
//! namespace follow Flux (`releaseName`, else `[targetNamespace-]name`, shortened past 53
//! characters); kustomize `postRenderers` (patches, images) apply as helm-controller applies
//! them (`postRenderStrategy`: hooks included by default, as in Helm 4). Every other HelmRelease is reported as skipped
//! (info) with the reason.

use std::path::{Path, PathBuf};

use keelson_helm::render::RenderOptions;
use keelson_helm::semver::{Constraints, Version};
use keelson_helm::value::{Map, Value as HelmValue};
use keelson_helm::valuesfrom::ValuesFrom;
use keelson_kustomize::FileSystem as _;
use serde_json::Value;

use super::{Cluster, HELM_GROUP, Rendered, Renderer, clean_rel, default_ns, display_id, str_at};
use crate::finding::{Category, Finding, Severity};

/// Where a release's chart comes from.
enum ChartAt {
    /// A chart directory of this repository (absolute).
    Dir(PathBuf),
    /// A packaged chart of the chart cache.
    Archive(PathBuf),
}

/// The chart a release asks for, from `spec.chart.spec` or its HelmChart.
struct ChartSpec {
    chart: String,
    version: String,
    source_kind: String,
    source_ns: String,
    source_name: String,
    values_files: Vec<String>,
    ignore_missing_values_files: bool,
    /// JSON pointer of the reference in the HelmRelease (for locations).
    pointer: &'static str,
}

/// Why a release is not rendered.
enum NotRendered {
    /// Its chart is not available offline (info).
    Skipped(String, &'static str),
    /// Its chart or values are broken (error).
    Failed(String, &'static str),
}

impl Renderer<'_> {
    /// Renders the HelmReleases deployed by `cluster`.
    pub(super) fn helm_releases(&mut self, cluster: &Cluster) {
        let releases: Vec<Rendered> = cluster
            .objects
            .iter()
            .map(|&i| &self.out.objects[i])
            .filter(|r| {
                let (group, _) =
                    keelson_manifest::split_api_version(str_at(&r.object, &["apiVersion"]));
                group == HELM_GROUP && str_at(&r.object, &["kind"]) == "HelmRelease"
            })
            .cloned()
            .collect();
        for hr in releases {
            if let Err(why) = self.helm_release(cluster, &hr) {
                let (severity, rule, message, pointer) = match why {
                    NotRendered::Skipped(m, p) => (Severity::Info, "helm/skipped", m, p),
                    NotRendered::Failed(m, p) => (Severity::Error, "helm/render-failed", m, p),
                };
                let id = display_id(&hr.object);
                self.out.findings.push(
                    Finding::new(
                        Category::Render,
                        severity,
                        rule,
                        hr.location(self.repo, pointer),
                        format!("{id}: {message}"),
                    )
                    .with_object(id),
                );
            }
        }
    }

    /// HelmReleases of plain kustomization trees: no Flux Kustomization deploys them, so
    /// their sources are unknown; reported as skipped.
    pub(super) fn plain_helm_releases(&mut self) {
        let mut findings = Vec::new();
        for hr in self.out.objects.iter().filter(|r| r.cluster.is_none()) {
            let (group, _) =
                keelson_manifest::split_api_version(str_at(&hr.object, &["apiVersion"]));
            if group != HELM_GROUP || str_at(&hr.object, &["kind"]) != "HelmRelease" {
                continue;
            }
            let id = display_id(&hr.object);
            findings.push(
                Finding::new(
                    Category::Render,
                    Severity::Info,
                    "helm/skipped",
                    hr.location(self.repo, "/spec"),
                    format!("{id}: in a plain kustomization no Flux Kustomization deploys; its chart source is unknown"),
                )
                .with_object(id),
            );
        }
        self.out.findings.extend(findings);
    }

    fn helm_release(&mut self, cluster: &Cluster, hr: &Rendered) -> Result<(), NotRendered> {
        let object = &hr.object;
        let ns = default_ns(object).to_string();
        let name = str_at(object, &["metadata", "name"]).to_string();
        let spec = self.chart_spec(cluster, object, &ns)?;
        let at = self.locate_chart(cluster, &spec)?;
        let mut chart = match &at {
            ChartAt::Dir(dir) => keelson_helm::chart::load_dir(dir),
            ChartAt::Archive(file) => keelson_helm::chart::load_path(file),
        }
        .map_err(|e| {
            NotRendered::Failed(
                format!("failed to load chart '{}': {e}", spec.chart),
                spec.pointer,
            )
        })?;
        if !spec.values_files.is_empty() {
            chart.values = self.values_files(&at, &chart, &spec)?;
        }
        let values = self.release_values(cluster, object, &ns)?;
        let target = str_at(object, &["spec", "targetNamespace"]);
        let release_namespace = if target.is_empty() { &ns } else { target };
        let opts = RenderOptions {
            release_name: release_name(object, &name),
            namespace: release_namespace.to_string(),
            include_crds: true,
            ..RenderOptions::default()
        };
        let out = keelson_helm::release::render_release(chart, &values, &opts).map_err(|e| {
            NotRendered::Failed(
                format!("failed to render chart '{}': {e}", spec.chart),
                "/spec/values",
            )
        })?;
        let fallback = hr.location(self.repo, spec.pointer);
        let owner = hr.owner.clone();
        let push = |this: &mut Self, object: Value, path: &str, text: &str| {
            // A template that renders to nothing (or only comments) is no object.
            if object.as_object().is_none_or(|m| m.is_empty()) {
                return;
            }
            if matches!(at, ChartAt::Archive(_)) {
                this.out
                    .chart_outputs
                    .push((fallback.clone(), path.to_string(), text.to_string()));
            }
            this.out.objects.push(Rendered {
                object,
                origin: None,
                fallback: fallback.clone(),
                owner: owner.clone(),
                cluster: Some(cluster.id),
                via: Some(format!("HelmRelease {ns}/{name}, {path}")),
            });
        };
        for crd in &out.crds {
            let objects = crd.objects().map_err(|e| {
                NotRendered::Failed(format!("chart '{}': {e}", spec.chart), spec.pointer)
            })?;
            for o in objects {
                push(self, o, &crd.path, &crd.content);
            }
        }
        let mut resources = Vec::with_capacity(out.resources.len());
        for r in &out.resources {
            let o = r.object().map_err(|e| {
                NotRendered::Failed(format!("chart '{}': {e}", spec.chart), spec.pointer)
            })?;
            resources.push((o, r.path.clone(), r.content.clone()));
        }
        // Test hooks run only with `spec.test.enable` (`flux`/`helm test`); otherwise they
        // never reach the cluster.
        let tests = object
            .pointer("/spec/test/enable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut hooks = Vec::new();
        for h in out.hooks.iter().filter(|h| tests || !h.is_test()) {
            let o = h.object().map_err(|e| {
                NotRendered::Failed(format!("chart '{}': {e}", spec.chart), spec.pointer)
            })?;
            hooks.push((o, h.path.clone(), h.manifest.clone()));
        }
        let post_renderers = object
            .pointer("/spec/postRenderers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !post_renderers.is_empty() {
            let strategy = object
                .pointer("/spec/postRenderStrategy")
                .and_then(Value::as_str);
            let strategy = keelson_helm::postrender::Strategy::parse(strategy).ok_or_else(|| {
                NotRendered::Failed(
                    format!(
                        "unknown postRenderStrategy '{}' (expected combined, separate or nohooks)",
                        strategy.unwrap_or_default()
                    ),
                    "/spec/postRenderStrategy",
                )
            })?;
            let sourced = |list: Vec<(Value, String, String)>| {
                list.into_iter().map(|(o, path, _)| (path, o)).collect()
            };
            let (manifest, hooked) = keelson_helm::postrender::run(
                sourced(resources),
                sourced(hooks),
                &post_renderers,
                strategy,
            )
            .map_err(|e| {
                NotRendered::Failed(
                    format!("{e}: {}", e.source),
                    POST_RENDERERS
                        .get(e.index)
                        .copied()
                        .unwrap_or("/spec/postRenderers"),
                )
            })?;
            let with_text = |list: Vec<(String, Value)>| {
                list.into_iter()
                    .map(|(path, o)| {
                        let text = keelson_manifest::to_yaml(&o);
                        (o, path, text)
                    })
                    .collect()
            };
            resources = with_text(manifest);
            hooks = with_text(hooked);
        }
        for (o, path, text) in resources.into_iter().chain(hooks) {
            push(self, o, &path, &text);
        }
        self.out.helm_releases += 1;
        Ok(())
    }

    /// The chart a release names: `spec.chart.spec`, or the HelmChart of `spec.chartRef`.
    fn chart_spec(
        &self,
        cluster: &Cluster,
        object: &Value,
        ns: &str,
    ) -> Result<ChartSpec, NotRendered> {
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        if let Some(reference) = object.pointer("/spec/chartRef") {
            let kind = str_at(reference, &["kind"]);
            let name = str_at(reference, &["name"]);
            let rns = match str_at(reference, &["namespace"]) {
                "" => ns,
                n => n,
            };
            if kind != "HelmChart" {
                return Err(NotRendered::Skipped(
                    format!(
                        "chartRef {kind}/{rns}/{name} is an artifact fetched in the cluster; not rendered offline"
                    ),
                    "/spec/chartRef",
                ));
            }
            let chart = cluster
                .objects
                .iter()
                .map(|&i| &self.out.objects[i].object)
                .find(|v| {
                    str_at(v, &["kind"]) == "HelmChart"
                        && str_at(v, &["metadata", "name"]) == name
                        && default_ns(v) == rns
                })
                .ok_or_else(|| {
                    NotRendered::Skipped(
                        format!("HelmChart {rns}/{name} is not defined in this cluster"),
                        "/spec/chartRef",
                    )
                })?;
            return Ok(ChartSpec {
                chart: str_at(chart, &["spec", "chart"]).to_string(),
                version: str_at(chart, &["spec", "version"]).to_string(),
                source_kind: str_at(chart, &["spec", "sourceRef", "kind"]).to_string(),
                source_ns: rns.to_string(),
                source_name: str_at(chart, &["spec", "sourceRef", "name"]).to_string(),
                values_files: strings(chart.pointer("/spec/valuesFiles")),
                ignore_missing_values_files: chart
                    .pointer("/spec/ignoreMissingValuesFiles")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                pointer: "/spec/chartRef",
            });
        }
        let Some(spec) = object.pointer("/spec/chart/spec") else {
            return Err(NotRendered::Skipped(
                "neither spec.chart nor spec.chartRef".into(),
                "/spec",
            ));
        };
        Ok(ChartSpec {
            chart: str_at(spec, &["chart"]).to_string(),
            version: str_at(spec, &["version"]).to_string(),
            source_kind: str_at(spec, &["sourceRef", "kind"]).to_string(),
            source_ns: match str_at(spec, &["sourceRef", "namespace"]) {
                "" => ns.to_string(),
                n => n.to_string(),
            },
            source_name: str_at(spec, &["sourceRef", "name"]).to_string(),
            values_files: strings(spec.get("valuesFiles")),
            ignore_missing_values_files: spec
                .get("ignoreMissingValuesFiles")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            pointer: "/spec/chart/spec/chart",
        })
    }

    /// Finds the chart: a directory of this repository or a packaged chart of the cache.
    fn locate_chart(&self, cluster: &Cluster, spec: &ChartSpec) -> Result<ChartAt, NotRendered> {
        let source = format!(
            "{}/{}/{}",
            spec.source_kind, spec.source_ns, spec.source_name
        );
        match spec.source_kind.as_str() {
            "GitRepository" => {
                let this_repo = cluster.local_source.as_ref().is_some_and(|(k, n, m)| {
                    *k == spec.source_kind && *n == spec.source_ns && *m == spec.source_name
                });
                if !this_repo {
                    return Err(NotRendered::Skipped(
                        format!("chart from {source}, not this repository"),
                        spec.pointer,
                    ));
                }
                let Some(rel) = clean_rel(&spec.chart) else {
                    return Err(NotRendered::Failed(
                        format!("chart path '{}' points outside the repository", spec.chart),
                        spec.pointer,
                    ));
                };
                let root = self
                    .roots
                    .get(&(
                        spec.source_kind.clone(),
                        spec.source_ns.clone(),
                        spec.source_name.clone(),
                    ))
                    .cloned()
                    .unwrap_or_default();
                let dir = self.repo.root.join(root).join(rel);
                if !dir.join("Chart.yaml").is_file() {
                    return Err(NotRendered::Failed(
                        format!(
                            "chart path '{}' has no Chart.yaml in the repository",
                            spec.chart
                        ),
                        spec.pointer,
                    ));
                }
                Ok(ChartAt::Dir(dir))
            }
            "HelmRepository" => {
                let Some(cache) = &self.settings.chart_cache else {
                    return Err(NotRendered::Skipped(
                        format!(
                            "chart '{}' from {source} is not in the repository (--chart-cache DIR renders it from a local chart cache)",
                            spec.chart
                        ),
                        spec.pointer,
                    ));
                };
                cached_chart(cache, &spec.chart, &spec.version)
                    .map(ChartAt::Archive)
                    .ok_or_else(|| {
                        let version = if spec.version.is_empty() {
                            "*"
                        } else {
                            &spec.version
                        };
                        NotRendered::Skipped(
                            format!(
                                "no packaged chart '{}' matching version '{version}' in the chart cache {}",
                                spec.chart,
                                cache.display()
                            ),
                            spec.pointer,
                        )
                    })
            }
            _ => Err(NotRendered::Skipped(
                format!("chart from {source}: not available offline"),
                spec.pointer,
            )),
        }
    }

    /// `valuesFiles` merged in order: they replace the chart's `values.yaml`. Paths are
    /// relative to the chart, else (Git charts) to the source root.
    fn values_files(
        &self,
        at: &ChartAt,
        chart: &keelson_helm::chart::Chart,
        spec: &ChartSpec,
    ) -> Result<Map, NotRendered> {
        let mut merged = Map::new();
        // Values files come from the checkout only, never through a symlink or `..` out of it.
        let disk = keelson_kustomize::RealFs::new(&self.repo.root).ok();
        let read = |path: PathBuf| disk.as_ref().and_then(|d| d.read(&path).ok());
        for file in &spec.values_files {
            let rel = file.trim_start_matches("./");
            let text = match at {
                ChartAt::Dir(dir) => read(dir.join(rel))
                    .or_else(|| clean_rel(rel).and_then(|p| read(self.repo.root.join(p))))
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
                ChartAt::Archive(_) if rel == "values.yaml" => Some(keelson_helm::yaml::to_yaml(
                    &HelmValue::map(chart.values.clone()),
                )),
                ChartAt::Archive(_) => chart
                    .files
                    .get(rel)
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
            };
            let Some(text) = text else {
                if spec.ignore_missing_values_files {
                    continue;
                }
                return Err(NotRendered::Failed(
                    format!("no values file found at path '{file}'"),
                    spec.pointer,
                ));
            };
            match keelson_helm::yaml::parse(&text) {
                Ok(HelmValue::Map(m)) => keelson_helm::values::merge_maps(&mut merged, &m.borrow()),
                Ok(HelmValue::Nil) => {}
                Ok(_) => {
                    return Err(NotRendered::Failed(
                        format!("values file '{file}' is not a map"),
                        spec.pointer,
                    ));
                }
                Err(e) => {
                    return Err(NotRendered::Failed(
                        format!("failed to parse values file '{file}': {e}"),
                        spec.pointer,
                    ));
                }
            }
        }
        Ok(merged)
    }

    /// The user values: `valuesFrom` (ConfigMaps and Secrets of the cluster or the
    /// repository) then `spec.values`.
    fn release_values(
        &self,
        cluster: &Cluster,
        object: &Value,
        ns: &str,
    ) -> Result<serde_json::Map<String, Value>, NotRendered> {
        let refs: Vec<&Value> = object
            .pointer("/spec/valuesFrom")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let mut entries = Vec::with_capacity(refs.len());
        for (i, r) in refs.iter().enumerate() {
            let kind = str_at(r, &["kind"]);
            let name = str_at(r, &["name"]);
            let found = self.find_values_object(cluster, kind, ns, name);
            if found.is_some_and(|o| o.get("sops").is_some()) {
                return Err(NotRendered::Skipped(
                    format!(
                        "values from the SOPS-encrypted {kind} {ns}/{name} cannot be read offline"
                    ),
                    VALUES_FROM[i.min(VALUES_FROM.len() - 1)],
                ));
            }
            entries.push(ValuesFrom {
                kind,
                name,
                key: match str_at(r, &["valuesKey"]) {
                    "" => "values.yaml",
                    k => k,
                },
                target_path: Some(str_at(r, &["targetPath"])).filter(|p| !p.is_empty()),
                literal: r.get("literal").and_then(Value::as_bool).unwrap_or(false),
                optional: r.get("optional").and_then(Value::as_bool).unwrap_or(false),
                data: found.map(|o| object_data(kind, o)),
            });
        }
        let values =
            keelson_helm::valuesfrom::compose(ns, &entries, object.pointer("/spec/values"))
                .map_err(|e| NotRendered::Failed(e.to_string(), "/spec/valuesFrom"))?;
        Ok(keelson_helm::valuesfrom::to_json(&values))
    }

    /// The ConfigMap or Secret `ns/name`: rendered in this cluster first, else written anywhere
    /// in the repository.
    fn find_values_object(
        &self,
        cluster: &Cluster,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Option<&Value> {
        let matches = |v: &Value| {
            str_at(v, &["kind"]) == kind
                && str_at(v, &["metadata", "name"]) == name
                && (str_at(v, &["metadata", "namespace"]) == ns
                    || str_at(v, &["metadata", "namespace"]).is_empty())
        };
        cluster
            .objects
            .iter()
            .map(|&i| &self.out.objects[i].object)
            .find(|v| matches(v))
            .or_else(|| {
                self.repo
                    .documents("", kind)
                    .map(|(v, _)| v)
                    .find(|v| matches(v))
            })
    }
}

/// Pointers of the first post-renderers (locations need `'static` pointers).
const POST_RENDERERS: [&str; 4] = [
    "/spec/postRenderers/0",
    "/spec/postRenderers/1",
    "/spec/postRenderers/2",
    "/spec/postRenderers/3",
];

/// Pointers of the first `valuesFrom` entries (locations need `'static` pointers).
const VALUES_FROM: [&str; 8] = [
    "/spec/valuesFrom/0",
    "/spec/valuesFrom/1",
    "/spec/valuesFrom/2",
    "/spec/valuesFrom/3",
    "/spec/valuesFrom/4",
    "/spec/valuesFrom/5",
    "/spec/valuesFrom/6",
    "/spec/valuesFrom/7",
];

/// The data of a ConfigMap or Secret (Secret `data` decoded; `stringData` too).
fn object_data(kind: &str, object: &Value) -> std::collections::BTreeMap<String, String> {
    use base64::Engine as _;
    let mut out = std::collections::BTreeMap::new();
    for field in ["data", "stringData"] {
        let Some(map) = object.get(field).and_then(Value::as_object) else {
            continue;
        };
        for (k, v) in map {
            let text = v.as_str().unwrap_or_default();
            let value = if kind == "Secret" && field == "data" {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            } else {
                text.to_string()
            };
            out.insert(k.clone(), value);
        }
    }
    out
}

/// Flux's release name: `releaseName`, else `[targetNamespace-]name`; past Helm's 53
/// characters, the first 40 and `-` and 12 hex digits of the full name's SHA-256.
fn release_name(object: &Value, name: &str) -> String {
    let full = match (
        str_at(object, &["spec", "releaseName"]),
        str_at(object, &["spec", "targetNamespace"]),
    ) {
        ("", "") => name.to_string(),
        ("", target) => format!("{target}-{name}"),
        (release, _) => release.to_string(),
    };
    keelson_api::helmrelease::shorten_release_name(&full)
}

/// The highest `<name>-<version>.tgz` of `cache` whose version matches `constraint`
/// (`*` when empty).
fn cached_chart(cache: &Path, name: &str, constraint: &str) -> Option<PathBuf> {
    let constraint = if constraint.is_empty() {
        "*"
    } else {
        constraint
    };
    let constraints = Constraints::parse(constraint).ok()?;
    let prefix = format!("{name}-");
    let mut best: Option<(Version, PathBuf)> = None;
    for entry in std::fs::read_dir(cache).ok()?.flatten() {
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        let Some(version) = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tgz"))
        else {
            continue;
        };
        let Ok(v) = Version::parse(version) else {
            continue;
        };
        if constraints.matches(&v) && best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, entry.path()));
        }
    }
    best.map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_follow_flux() {
        let hr = |spec: Value| serde_json::json!({"spec": spec});
        assert_eq!(release_name(&hr(serde_json::json!({})), "web"), "web");
        assert_eq!(
            release_name(&hr(serde_json::json!({"targetNamespace": "apps"})), "web"),
            "apps-web"
        );
        assert_eq!(
            release_name(
                &hr(serde_json::json!({"targetNamespace": "apps", "releaseName": "x"})),
                "web"
            ),
            "x"
        );
        let long = release_name(
            &hr(serde_json::json!({"targetNamespace": "a-very-long-target-namespace-name"})),
            "and-a-very-long-release-name",
        );
        assert_eq!(long.len(), 53, "{long}");
        // Flux's ShortenName: the first 40 bytes, '-', the first 12 hex digits of the SHA-256.
        assert!(
            long.starts_with("a-very-long-target-namespace-name-and-a--"),
            "{long}"
        );
    }
}
