//! The HelmChart reconciler: one chart, taken from a source and kept as a `.tgz` artifact.
//!
//! - `sourceRef: HelmRepository` (`type: default`): the version constraint is resolved against
//!   the repository's stored index (the highest match), and the archive is downloaded with the
//!   repository's credentials unless the stored chart already has that version. `type: oci`:
//!   the constraint is resolved against the tags of `<url>/<chart>` in the registry and the
//!   chart layer of the highest match is pulled.
//! - `sourceRef: GitRepository`: the folder `spec.chart` of the Git artifact is packaged as
//!   `helm package` would (its `.helmignore` applied) whenever the source revision changes.
//!
//! With `valuesFiles`, those files (relative to the chart for repository charts, to the source
//! root for Git) are merged in order and replace the chart's `values.yaml`, as in Flux. The
//! artifact is `helmchart/<ns>/<name>/<chart>-<version>.tgz`, its revision the chart version
//! (`<version>+<commit prefix>` with `reconcileStrategy: Revision`).

use std::path::{Component, Path};
use std::sync::Arc;

use futures::StreamExt;
use keelson_api::condition::{self, reasons, types};
use keelson_api::meta::Artifact;
use keelson_api::{
    GitRepository, HelmChart, HelmChartStatus, HelmRepository, RECONCILE_REQUESTED_AT,
};
use keelson_source::{HelmRepoError, Index, Storage};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::context::{Context, now};
use crate::helmrepository::{
    Failure, client_for, record_failure, secret_data, storage_failure, to_api,
};

/// How soon a chart whose source has no artifact yet is tried again.
const RETRY_SOURCE: std::time::Duration = std::time::Duration::from_secs(5);

/// What a successful build produced.
struct Built {
    artifact: Artifact,
    reason: &'static str,
    message: String,
    source_revision: Option<String>,
    new: bool,
}

pub async fn run(ctx: Arc<Context>) {
    let api: Api<HelmChart> = ctx.watched();
    let controller = crate::runner::controller_for(api, &ctx.run);
    let (by_repo, by_git) = (controller.store(), controller.store());
    let repos: Api<HelmRepository> = ctx.watched();
    let gits: Api<GitRepository> = ctx.watched();
    controller
        // A new index or Git revision triggers the charts built from it.
        .watches(repos, watcher::Config::default(), move |r| {
            using(&by_repo.state(), "HelmRepository", &r)
        })
        .watches(gits, watcher::Config::default(), move |g| {
            using(&by_git.state(), "GitRepository", &g)
        })
        .run(crate::runner::traced(reconcile), error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "helmchart reconcile error");
            }
        })
        .await;
}

fn using<K: Resource>(
    charts: &[Arc<HelmChart>],
    kind: &str,
    source: &K,
) -> Vec<ObjectRef<HelmChart>> {
    let ns = source.meta().namespace.clone().unwrap_or_default();
    let name = source.meta().name.clone().unwrap_or_default();
    charts
        .iter()
        .filter(|c| {
            c.namespace().as_deref() == Some(ns.as_str())
                && c.spec.source_ref.kind == kind
                && c.spec.source_ref.name == name
        })
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

fn error_policy(chart: Arc<HelmChart>, _: &kube::Error, _: Arc<Context>) -> Action {
    Action::requeue(chart.spec.interval.as_std())
}

async fn reconcile(chart: Arc<HelmChart>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    let ns = chart.namespace().unwrap_or_default();
    let name = chart.name_any();
    if chart.meta().deletion_timestamp.is_some() {
        if let Err(err) = ctx.storage.remove_all("HelmChart", &ns, &name) {
            tracing::warn!(%err, "helmchart: failed to remove artifacts");
        }
        return Ok(Action::await_change());
    }
    if chart.spec.suspended() {
        return Ok(Action::await_change());
    }
    let mut status = chart.status.clone().unwrap_or_default();
    let generation = chart.meta().generation;
    let outcome = build(&chart, &ctx, &ns, &name, &status).await;
    let mut requeue = chart.spec.interval.as_std();
    match &outcome {
        Ok(built) => {
            condition::set(
                &mut status.conditions,
                types::READY,
                true,
                built.reason,
                &built.message,
                generation,
                now(),
            );
            condition::set(
                &mut status.conditions,
                types::ARTIFACT_IN_STORAGE,
                true,
                reasons::SUCCEEDED,
                format!("stored artifact: revision '{}'", built.artifact.revision),
                generation,
                now(),
            );
            for type_ in [
                types::FETCH_FAILED,
                types::BUILD_FAILED,
                types::STALLED,
                types::RECONCILING,
            ] {
                condition::remove(&mut status.conditions, type_);
            }
            status.url = Some(built.artifact.url.clone());
            status.artifact = Some(built.artifact.clone());
            status.observed_chart_name = Some(chart.spec.chart.clone());
            status.observed_values_files = chart.spec.values_files.clone();
            status.observed_source_artifact_revision = built.source_revision.clone();
            status.observed_generation = generation;
            if built.new {
                tracing::info!(namespace = %ns, name = %name, revision = %built.artifact.revision, "helmchart: stored a new chart");
                ctx.event(chart.as_ref(), false, built.reason, built.message.clone())
                    .await;
            }
        }
        Err(failure) => {
            tracing::warn!(namespace = %ns, name = %name, reason = failure.reason, message = %failure.message, "helmchart: reconcile failed");
            record_failure(&mut status.conditions, failure, generation);
            let build_failed = matches!(
                failure.reason,
                reasons::INVALID_CHART_REFERENCE | reasons::CHART_PACKAGE_FAILED
            );
            if build_failed {
                condition::set(
                    &mut status.conditions,
                    types::BUILD_FAILED,
                    true,
                    failure.reason,
                    &failure.message,
                    generation,
                    now(),
                );
                condition::remove(&mut status.conditions, types::FETCH_FAILED);
            } else {
                condition::remove(&mut status.conditions, types::BUILD_FAILED);
            }
            if failure.stalled {
                status.observed_generation = generation;
            }
            if failure.reason == reasons::NO_SOURCE_ARTIFACT {
                requeue = requeue.min(RETRY_SOURCE);
            }
            ctx.event(
                chart.as_ref(),
                true,
                failure.reason,
                failure.message.clone(),
            )
            .await;
        }
    }
    status.last_handled_reconcile_at = chart.annotations().get(RECONCILE_REQUESTED_AT).cloned();
    ctx.patch_status::<HelmChart>(&ns, &name, &status).await?;
    match outcome {
        Err(failure) if failure.stalled => Ok(Action::await_change()),
        _ => Ok(Action::requeue(requeue)),
    }
}

fn no_source(message: String) -> Failure {
    Failure {
        reason: reasons::NO_SOURCE_ARTIFACT,
        message,
        stalled: false,
    }
}

async fn build(
    chart: &HelmChart,
    ctx: &Context,
    ns: &str,
    name: &str,
    status: &HelmChartStatus,
) -> Result<Built, Failure> {
    let source = &chart.spec.source_ref;
    match source.kind.as_str() {
        "HelmRepository" => {
            let api: Api<HelmRepository> = Api::namespaced(ctx.client.clone(), ns);
            let repo = api
                .get_opt(&source.name)
                .await
                .map_err(|e| no_source(format!("failed to get source: {e}")))?
                .ok_or_else(|| {
                    no_source(format!(
                        "failed to get source: HelmRepository '{ns}/{}' not found",
                        source.name
                    ))
                })?;
            if repo.spec.is_oci() {
                return from_oci(chart, &repo, ctx, ns, name, status).await;
            }
            from_repository(chart, &repo, ctx, ns, name, status).await
        }
        "GitRepository" => {
            let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), ns);
            let git = api
                .get_opt(&source.name)
                .await
                .map_err(|e| no_source(format!("failed to get source: {e}")))?
                .ok_or_else(|| {
                    no_source(format!(
                        "failed to get source: GitRepository '{ns}/{}' not found",
                        source.name
                    ))
                })?;
            from_git(chart, &git, ctx, ns, name, status).await
        }
        other => Err(Failure {
            reason: reasons::UNSUPPORTED,
            message: format!(
                "source kind '{other}' is not supported (HelmRepository, GitRepository)"
            ),
            stalled: true,
        }),
    }
}

/// Whether the stored artifact was built from the same inputs.
fn unchanged(chart: &HelmChart, status: &HelmChartStatus, ctx: &Context) -> Option<Artifact> {
    let current = status.artifact.as_ref()?;
    let same = status.observed_chart_name.as_deref() == Some(chart.spec.chart.as_str())
        && status.observed_values_files == chart.spec.values_files
        && status.observed_generation == chart.meta().generation
        && ctx.storage.local_path(&current.path).is_file();
    same.then(|| current.clone())
}

async fn from_repository(
    chart: &HelmChart,
    repo: &HelmRepository,
    ctx: &Context,
    ns: &str,
    name: &str,
    status: &HelmChartStatus,
) -> Result<Built, Failure> {
    let repo_status = repo.status.clone().unwrap_or_default();
    let index_artifact = repo_status.artifact.ok_or_else(|| {
        no_source(format!(
            "no artifact available for HelmRepository source '{}'",
            repo.name_any()
        ))
    })?;
    let local = ctx.storage.local_path(&index_artifact.path);
    let bytes = tokio::fs::read(&local).await.map_err(|e| {
        no_source(format!(
            "failed to read index of HelmRepository '{}': {e}",
            repo.name_any()
        ))
    })?;
    let index = Index::parse(&bytes, &index_artifact.path).map_err(|e| no_source(e.to_string()))?;
    let version = chart.spec.version();
    let selected = index
        .select(&chart.spec.chart, version)
        .map_err(|e| reference_failure(&e))?;
    let message = format!(
        "pulled '{}' chart with version '{}'",
        selected.name, selected.version
    );
    if let Some(current) = unchanged(chart, status, ctx)
        && current.revision == selected.version
    {
        return Ok(Built {
            artifact: current,
            reason: reasons::CHART_PULL_SUCCEEDED,
            message,
            source_revision: Some(index_artifact.revision),
            new: false,
        });
    }
    let client = client_for(repo, ctx, ns).await?;
    let archive = client.download(&selected).await.map_err(|e| Failure {
        reason: reasons::CHART_PULL_FAILED,
        stalled: false,
        message: format!("chart pull error: failed to download chart for remote reference: {e}"),
    })?;
    let archive = with_values_files(chart, selected.name.clone(), archive).await?;
    let artifact = store(
        ctx,
        ns,
        name,
        &selected.name,
        &selected.version,
        &selected.version,
        archive,
    )
    .await?;
    Ok(Built {
        artifact,
        reason: reasons::CHART_PULL_SUCCEEDED,
        message,
        source_revision: Some(index_artifact.revision),
        new: true,
    })
}

/// `sourceRef: HelmRepository` of `type: oci`: the chart is the repository
/// `<spec.url>/<chart>`; the highest tag matching the version constraint (`_` in tags read as
/// `+`) is pulled and its Helm chart layer kept, with the HelmRepository's credentials
/// (`.dockerconfigjson`, or `username`/`password`), `certSecretRef` CA and `insecure`.
async fn from_oci(
    chart: &HelmChart,
    repo: &HelmRepository,
    ctx: &Context,
    ns: &str,
    name: &str,
    status: &HelmChartStatus,
) -> Result<Built, Failure> {
    use keelson_source::oci::{HELM_CHART_LAYER_MEDIA_TYPE, OciRef, OciRepo, parse_url};
    let chart_url = format!(
        "{}/{}",
        repo.spec.url.trim_end_matches('/'),
        chart.spec.chart
    );
    let url = parse_url(&chart_url).map_err(|e| Failure {
        reason: reasons::URL_INVALID,
        message: format!("invalid Helm repository URL: {e}"),
        stalled: true,
    })?;
    let auth_failure = |message: String| Failure {
        reason: reasons::AUTHENTICATION_FAILED,
        message: format!("failed to get credential: {message}"),
        stalled: false,
    };
    let credentials = match &repo.spec.secret_ref {
        Some(r) => {
            let data = secret_data(ctx, ns, &r.name)
                .await
                .map_err(|f| auth_failure(f.message))?;
            if data.contains_key(".dockerconfigjson") {
                keelson_source::oci::docker_config_auth(&data, &url.registry)
                    .map_err(|e| auth_failure(e.to_string()))?
            } else {
                match (data.get("username"), data.get("password")) {
                    (Some(u), Some(p)) => Some((
                        String::from_utf8_lossy(u).into_owned(),
                        String::from_utf8_lossy(p).into_owned(),
                    )),
                    _ => None,
                }
            }
        }
        None => None,
    };
    let ca = match &repo.spec.cert_secret_ref {
        Some(r) => secret_data(ctx, ns, &r.name).await?.get("ca.crt").cloned(),
        None => None,
    };
    let client = OciRepo::new(
        url,
        repo.spec.insecure.unwrap_or(false),
        ca,
        credentials,
        repo.spec.timeout().as_std(),
    );
    let version = chart.spec.version();
    let reference = OciRef {
        semver: Some(version.to_string()),
        ..OciRef::default()
    };
    let tag = client
        .select_tag(&reference, Some(HELM_CHART_LAYER_MEDIA_TYPE))
        .await
        .map_err(|e| {
            let message = match e {
                keelson_source::oci::OciError::NoMatch(_) => format!(
                    "no '{}' chart with version matching '{version}' found",
                    chart.spec.chart
                ),
                other => other.to_string(),
            };
            Failure {
                reason: reasons::INVALID_CHART_REFERENCE,
                stalled: false,
                message: format!(
                    "invalid chart reference: failed to get chart version for remote reference: {message}"
                ),
            }
        })?
        .unwrap_or_default();
    let chart_version = tag.replace('_', "+");
    let message = format!(
        "pulled '{}' chart with version '{chart_version}'",
        chart.spec.chart
    );
    if let Some(current) = unchanged(chart, status, ctx)
        && current.revision == chart_version
    {
        return Ok(Built {
            artifact: current,
            reason: reasons::CHART_PULL_SUCCEEDED,
            message,
            source_revision: None,
            new: false,
        });
    }
    let pull_failure = |e: keelson_source::oci::OciError| Failure {
        reason: reasons::CHART_PULL_FAILED,
        stalled: false,
        message: format!("chart pull error: failed to download chart for remote reference: {e}"),
    };
    let resolved = client
        .resolve(
            &OciRef {
                tag: Some(tag.clone()),
                ..OciRef::default()
            },
            Some(HELM_CHART_LAYER_MEDIA_TYPE),
        )
        .await
        .map_err(pull_failure)?;
    let manifest = client
        .manifest(&resolved.digest)
        .await
        .map_err(pull_failure)?;
    let archive = client
        .pull_layer(&manifest, Some(HELM_CHART_LAYER_MEDIA_TYPE))
        .await
        .map_err(pull_failure)?;
    let chart_name = chart.spec.chart.clone();
    let archive = with_values_files(chart, chart_name.clone(), archive).await?;
    let artifact = store(
        ctx,
        ns,
        name,
        &chart_name,
        &chart_version,
        &chart_version,
        archive,
    )
    .await?;
    Ok(Built {
        artifact,
        reason: reasons::CHART_PULL_SUCCEEDED,
        message,
        source_revision: None,
        new: true,
    })
}

fn reference_failure(e: &HelmRepoError) -> Failure {
    Failure {
        reason: reasons::INVALID_CHART_REFERENCE,
        stalled: matches!(e, HelmRepoError::InvalidConstraint { .. }),
        message: format!(
            "invalid chart reference: failed to get chart version for remote reference: {e}"
        ),
    }
}

fn package_failure(message: String) -> Failure {
    Failure {
        reason: reasons::CHART_PACKAGE_FAILED,
        message: format!("chart package error: {message}"),
        stalled: false,
    }
}

/// A downloaded chart archive with the HelmChart's `valuesFiles` merged into its default values
/// (unchanged when there are none); the files are looked up inside the chart only.
async fn with_values_files(
    chart: &HelmChart,
    chart_name: String,
    archive: Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    let values_files = chart.spec.values_files.clone();
    if values_files.is_empty() {
        return Ok(archive);
    }
    let ignore_missing = chart.spec.ignore_missing_values_files.unwrap_or(false);
    blocking(move || {
        let files = keelson_release::chart::unpack(&chart_name, &archive)
            .map_err(|e| package_failure(e.to_string()))?;
        with_values(
            &chart_name,
            files,
            |_| Ok(None),
            &values_files,
            ignore_missing,
        )
    })
    .await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Failure {
            reason: reasons::STORAGE_OPERATION_FAILED,
            message: e.to_string(),
            stalled: false,
        }),
    }
}

/// Merges `values_files` (found in the chart's files, else through `outside`) in order and
/// packages the chart with the result as its `values.yaml`.
fn with_values(
    chart_name: &str,
    mut files: Vec<(String, Vec<u8>)>,
    outside: impl Fn(&str) -> Result<Option<Vec<u8>>, Failure>,
    values_files: &[String],
    ignore_missing: bool,
) -> Result<Vec<u8>, Failure> {
    use keelson_helm::value::{Map, Value};
    let mut merged = Map::new();
    for file in values_files {
        let rel = file.trim_start_matches("./");
        let data = match files.iter().find(|(p, _)| p == rel) {
            Some((_, d)) => Some(d.clone()),
            None => outside(rel)?,
        };
        let Some(data) = data else {
            if ignore_missing {
                continue;
            }
            return Err(package_failure(format!(
                "no values file found at path '{file}'"
            )));
        };
        let text = String::from_utf8_lossy(&data);
        let parsed = keelson_helm::yaml::parse(&text)
            .map_err(|e| package_failure(format!("failed to parse values file '{file}': {e}")))?;
        match parsed {
            Value::Map(m) => keelson_helm::values::merge_maps(&mut merged, &m.borrow()),
            Value::Nil => {}
            _ => {
                return Err(package_failure(format!(
                    "values file '{file}' is not a map"
                )));
            }
        }
    }
    let yaml = keelson_helm::yaml::to_yaml(&Value::map(merged));
    files.retain(|(p, _)| p != "values.yaml");
    files.push(("values.yaml".into(), yaml.into_bytes()));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    keelson_source::chartpkg::package_chart(chart_name, &files)
        .map_err(|e| package_failure(e.to_string()))
}

async fn from_git(
    chart: &HelmChart,
    git: &GitRepository,
    ctx: &Context,
    ns: &str,
    name: &str,
    status: &HelmChartStatus,
) -> Result<Built, Failure> {
    let git_artifact = git
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .ok_or_else(|| {
            no_source(format!(
                "no artifact available for GitRepository source '{}'",
                git.name_any()
            ))
        })?;
    if let Some(current) = unchanged(chart, status, ctx)
        && status.observed_source_artifact_revision.as_deref()
            == Some(git_artifact.revision.as_str())
    {
        // The stored file is `<chart name>-<version>.tgz`.
        let file = current.path.rsplit('/').next().unwrap_or_default();
        let suffix = format!("-{}.tgz", current.revision.replace('+', "_"));
        let chart_name = file.strip_suffix(&suffix).unwrap_or(&chart.spec.chart);
        let message = format!(
            "packaged '{chart_name}' chart with version '{}'",
            current.revision
        );
        return Ok(Built {
            artifact: current,
            reason: reasons::CHART_PACKAGE_SUCCEEDED,
            message,
            source_revision: Some(git_artifact.revision),
            new: false,
        });
    }
    let rel = chart
        .spec
        .chart
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_string();
    if Path::new(&rel)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(package_failure(format!(
            "chart path '{}' must be relative to the source root",
            chart.spec.chart
        )));
    }
    let local = ctx.storage.local_path(&git_artifact.path);
    let values_files = chart.spec.values_files.clone();
    let ignore_missing = chart.spec.ignore_missing_values_files.unwrap_or(false);
    let strategy_revision = chart.spec.reconcile_strategy.as_deref() == Some("Revision");
    let commit = git_artifact
        .revision
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .chars()
        .take(12)
        .collect::<String>();
    let (chart_name, version, archive) = blocking(move || {
        let work = tempfile::tempdir().map_err(|e| package_failure(e.to_string()))?;
        let file = std::fs::File::open(&local).map_err(|e| {
            no_source(format!(
                "failed to read source artifact {}: {e}",
                local.display()
            ))
        })?;
        keelson_source::unpack(std::io::BufReader::new(file), work.path())
            .map_err(|e| package_failure(e.to_string()))?;
        let dir = work.path().join(&rel);
        if !dir.join("Chart.yaml").is_file() {
            return Err(package_failure(format!(
                "no chart found at path '{rel}' in the source: Chart.yaml is missing"
            )));
        }
        let files =
            keelson_helm::chart::dir_files(&dir).map_err(|e| package_failure(e.to_string()))?;
        let loaded = keelson_helm::chart::load_files(&rel, files.clone())
            .map_err(|e| package_failure(e.to_string()))?;
        let chart_name = loaded.name();
        let mut version = loaded.version();
        if strategy_revision && !commit.is_empty() {
            version = format!("{version}+{commit}");
        }
        let root = work.path().to_path_buf();
        let outside = |p: &str| -> Result<Option<Vec<u8>>, Failure> {
            if Path::new(p)
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
            {
                return Err(package_failure(format!(
                    "values file '{p}' must be relative"
                )));
            }
            Ok(std::fs::read(root.join(p)).ok())
        };
        let files = set_version(files, &version);
        // Flux: values files of a Git chart are relative to the source root.
        let archive = if values_files.is_empty() {
            keelson_source::chartpkg::package_chart(&chart_name, &files)
                .map_err(|e| package_failure(e.to_string()))?
        } else {
            with_values(&chart_name, files, outside, &values_files, ignore_missing)?
        };
        Ok((chart_name, version, archive))
    })
    .await?;
    let artifact = store(ctx, ns, name, &chart_name, &version, &version, archive).await?;
    Ok(Built {
        message: format!("packaged '{chart_name}' chart with version '{version}'"),
        artifact,
        reason: reasons::CHART_PACKAGE_SUCCEEDED,
        source_revision: Some(git_artifact.revision),
        new: true,
    })
}

/// Rewrites `version:` of Chart.yaml when the revision strategy added build metadata.
fn set_version(files: Vec<(String, Vec<u8>)>, version: &str) -> Vec<(String, Vec<u8>)> {
    if !version.contains('+') {
        return files;
    }
    files
        .into_iter()
        .map(|(p, d)| {
            if p != "Chart.yaml" {
                return (p, d);
            }
            let text = String::from_utf8_lossy(&d);
            let out: Vec<String> = text
                .lines()
                .map(|l| {
                    if l.starts_with("version:") {
                        format!("version: {version}")
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            (p, (out.join("\n") + "\n").into_bytes())
        })
        .collect()
}

async fn store(
    ctx: &Context,
    ns: &str,
    name: &str,
    chart_name: &str,
    version: &str,
    revision: &str,
    archive: Vec<u8>,
) -> Result<Artifact, Failure> {
    let file = format!("{chart_name}-{}.tgz", version.replace('+', "_"));
    let path = Storage::artifact_path("HelmChart", ns, name, &file).map_err(storage_failure)?;
    let storage = ctx.storage.clone();
    let revision = revision.to_string();
    let artifact = blocking(move || {
        let artifact = storage
            .store_bytes(&path, &revision, &archive)
            .map_err(storage_failure)?;
        storage
            .garbage_collect(&artifact)
            .map_err(storage_failure)?;
        Ok(artifact)
    })
    .await?;
    Ok(to_api(artifact))
}
