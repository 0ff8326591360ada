//! The HelmRelease reconciler.
//!
//! Gates first — deleted? uninstall; suspended? stop; dependencies ready? — then the steps:
//! fetch the chart, compose the values, render, decide (install, upgrade, or in sync), act, and
//! on failure remediate as configured (uninstall after a failed install, rollback or uninstall
//! after a failed upgrade) until the retries are spent. In sync, drift detection compares the
//! cluster with the release manifest and corrects (`enabled`) or reports (`warn`) it. Status
//! carries Flux's conditions (Ready, Released, Remediated, TestSuccess, Stalled, Reconciling),
//! failure counters and history; the release records are the helm CLI's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use keelson_api::condition::{self, reasons, types};
use keelson_api::helmrelease::{
    FIELD_MANAGER, FORCE_REQUEST_ANNOTATION, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL,
    RESET_REQUEST_ANNOTATION, Snapshot, conditions as hc,
};
use keelson_api::kustomization::{ResourceInventory, ResourceRef};
use keelson_api::{HelmRelease, HelmReleaseStatus, RECONCILE_REQUESTED_AT};
use keelson_release::model::{Release, status as rstatus};
use keelson_release::render::{Rendered, Settings, Strategy};
use keelson_release::{CrdPolicy, Engine, Request, Storage};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::Value;
use sha2::Digest;

use crate::chartsource::{ChartArtifact, ChartSource};
use crate::context::{Context, now};

/// Flux's finalizer.
/// How soon a failed release with retries left is tried again.
const RETRY_SOON: Duration = Duration::from_secs(2);
/// How soon a transient failure (source not ready, values missing) is tried again.
const RETRY_TRANSIENT: Duration = Duration::from_secs(10);

/// The HelmRelease reconciler's shared state.
pub struct HelmReleaseController {
    ctx: Arc<Context>,
    engine: Engine,
    charts: Arc<dyn ChartSource>,
    kube_version: Option<String>,
}

/// A failure before any release action (its Ready reason and message).
struct Failure {
    reason: &'static str,
    message: String,
    requeue: Duration,
}

/// Runs the HelmRelease reconciler with `charts` as the chart source until the future is
/// dropped.
pub async fn run(ctx: Arc<Context>, charts: Arc<dyn ChartSource>) {
    let kube_version = ctx
        .client
        .apiserver_version()
        .await
        .ok()
        .map(|v| v.git_version);
    let shared = Arc::new(HelmReleaseController {
        engine: Engine::new(ctx.client.clone(), FIELD_MANAGER),
        ctx: ctx.clone(),
        charts,
        kube_version,
    });
    let api: Api<HelmRelease> = ctx.watched();
    let controller = crate::runner::controller_for(api.clone(), &ctx.run);
    let store = controller.store();
    let (by_cm, by_secret, dependents) = (store.clone(), store.clone(), store.clone());
    let (by_chart, by_oci) = (store.clone(), store);
    let helmcharts: Api<keelson_api::HelmChart> = ctx.watched();
    let ocirepositories: Api<keelson_api::OCIRepository> = ctx.watched();
    let configmaps: Api<ConfigMap> = ctx.watched();
    let secrets: Api<Secret> = ctx.watched();
    controller
        // A ConfigMap or Secret named in valuesFrom triggers the releases that read it.
        .watches(configmaps, watcher::Config::default(), move |cm| {
            referencing(
                &by_cm.state(),
                "ConfigMap",
                &cm.namespace().unwrap_or_default(),
                &cm.name_any(),
            )
        })
        .watches(
            secrets,
            watcher::Config::default().fields("type!=helm.sh/release.v1"),
            move |s| {
                referencing(
                    &by_secret.state(),
                    "Secret",
                    &s.namespace().unwrap_or_default(),
                    &s.name_any(),
                )
            },
        )
        // A HelmChart that changes (new artifact, Ready) triggers the releases using it: the
        // one it was created for (owner labels) and those naming it in chartRef.
        .watches(helmcharts, watcher::Config::default(), move |hc| {
            let labels = hc.labels();
            let mut refs = using_chart_ref(&by_chart.state(), "HelmChart", &hc);
            if let (Some(owner), Some(owner_ns)) = (
                labels.get(OWNER_NAME_LABEL),
                labels.get(OWNER_NAMESPACE_LABEL),
            ) {
                refs.push(ObjectRef::new(owner).within(owner_ns));
            }
            refs
        })
        // An OCIRepository that changes (new artifact, Ready) triggers the releases naming it
        // in chartRef.
        .watches(ocirepositories, watcher::Config::default(), move |repo| {
            using_chart_ref(&by_oci.state(), "OCIRepository", &repo)
        })
        // A HelmRelease that changes (becomes Ready) triggers those that depend on it.
        .watches(api, watcher::Config::default(), move |dep| {
            crate::runner::dependents_of(&dependents, &dep, |hr: &HelmRelease| &hr.spec.depends_on)
        })
        .run(crate::runner::traced(reconcile), error_policy, shared)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "helmrelease reconcile error");
            }
        })
        .await;
}

/// The releases whose `chartRef` names `source` (of `kind`; a namespace-less reference means
/// the release's own namespace).
fn using_chart_ref<S: Resource>(
    releases: &[Arc<HelmRelease>],
    kind: &str,
    source: &S,
) -> Vec<ObjectRef<HelmRelease>> {
    let (ns, name) = (source.namespace().unwrap_or_default(), source.name_any());
    releases
        .iter()
        .filter(|hr| {
            let own = hr.namespace().unwrap_or_default();
            hr.spec.chart_ref.as_ref().is_some_and(|r| {
                r.kind == kind
                    && r.name == name
                    && r.namespace.as_deref().unwrap_or(own.as_str()) == ns
            })
        })
        .map(|hr| ObjectRef::from_obj(hr.as_ref()))
        .collect()
}

fn referencing(
    releases: &[Arc<HelmRelease>],
    kind: &str,
    ns: &str,
    name: &str,
) -> Vec<ObjectRef<HelmRelease>> {
    releases
        .iter()
        .filter(|hr| {
            hr.namespace().as_deref() == Some(ns)
                && hr
                    .spec
                    .values_from
                    .iter()
                    .any(|v| v.kind == kind && v.name == name)
        })
        .map(|hr| ObjectRef::from_obj(hr.as_ref()))
        .collect()
}

fn error_policy(_: Arc<HelmRelease>, _: &kube::Error, _: Arc<HelmReleaseController>) -> Action {
    Action::requeue(RETRY_TRANSIENT)
}

/// The release request of a HelmRelease for an action of kind `action`.
fn request(hr: &HelmRelease, client: kube::Client, action: &str) -> Request {
    let install = hr.spec.install.clone().unwrap_or_default();
    let upgrade = hr.spec.upgrade.clone().unwrap_or_default();
    let rollback = hr.spec.rollback.clone().unwrap_or_default();
    let uninstall = hr.spec.uninstall.clone().unwrap_or_default();
    let base = hr.timeout();
    let pick = |t: &Option<keelson_api::Duration>| t.as_ref().map_or(base, |d| d.as_std());
    let (timeout, disable_wait, disable_wait_jobs, disable_hooks, force, crds) = match action {
        "install" => (
            pick(&install.timeout),
            install.disable_wait,
            install.disable_wait_for_jobs,
            install.disable_hooks,
            None,
            CrdPolicy::parse(install.crds_policy()),
        ),
        "upgrade" => (
            pick(&upgrade.timeout),
            upgrade.disable_wait,
            upgrade.disable_wait_for_jobs,
            upgrade.disable_hooks,
            upgrade.force,
            CrdPolicy::parse(upgrade.crds_policy()),
        ),
        "rollback" => (
            pick(&rollback.timeout),
            rollback.disable_wait,
            rollback.disable_wait_for_jobs,
            rollback.disable_hooks,
            rollback.force,
            CrdPolicy::Skip,
        ),
        _ => (
            pick(&uninstall.timeout),
            uninstall.disable_wait,
            None,
            uninstall.disable_hooks,
            None,
            CrdPolicy::Skip,
        ),
    };
    let common = hr.spec.common_metadata.clone().unwrap_or_default();
    Request {
        name: hr.release_name(),
        namespace: hr.release_namespace(),
        storage: Storage::new(client, &hr.storage_namespace()),
        owner_labels: BTreeMap::from([
            (OWNER_NAME_LABEL.to_string(), hr.name_any()),
            (
                OWNER_NAMESPACE_LABEL.to_string(),
                hr.namespace().unwrap_or_default(),
            ),
        ]),
        common_labels: common.labels,
        common_annotations: common.annotations,
        timeout,
        wait: !disable_wait.unwrap_or(false),
        wait_for_jobs: !disable_wait_jobs.unwrap_or(false),
        disable_hooks: disable_hooks.unwrap_or(false),
        max_history: hr.max_history(),
        force: force.unwrap_or(false),
        crds,
        create_namespace: install.create_namespace.unwrap_or(false),
        keep_history: uninstall.keep_history.unwrap_or(false),
    }
}

async fn reconcile(
    hr: Arc<HelmRelease>,
    shared: Arc<HelmReleaseController>,
) -> Result<Action, kube::Error> {
    let ctx = &shared.ctx;
    let ns = hr.namespace().unwrap_or_default();
    let name = hr.name_any();
    let api: Api<HelmRelease> = Api::namespaced(ctx.client.clone(), &ns);

    // Gate: deleted → uninstall the release (unless suspended), then let it go.
    if hr.meta().deletion_timestamp.is_some() {
        if crate::runner::has_finalizer(hr.as_ref()) {
            if !hr.suspended() {
                let req = request(&hr, ctx.client.clone(), "uninstall");
                if let Err(err) = shared.engine.uninstall(&req).await {
                    ctx.event(hr.as_ref(), true, hc::UNINSTALL_FAILED, err.to_string())
                        .await;
                    return Ok(Action::requeue(RETRY_TRANSIENT));
                }
            }
            // The HelmChart created for spec.chart goes with the release, as in Flux.
            if let Some((chart_ns, chart_name)) = hr
                .status
                .as_ref()
                .and_then(|s| s.helm_chart.as_deref())
                .and_then(|c| c.split_once('/'))
            {
                let charts: Api<keelson_api::HelmChart> =
                    Api::namespaced(ctx.client.clone(), chart_ns);
                match charts.delete(chart_name, &Default::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(err) => {
                        tracing::warn!(%err, "helmrelease: failed to delete HelmChart {chart_ns}/{chart_name}");
                    }
                }
            }
            crate::runner::remove_finalizer(&api, hr.as_ref()).await?;
        }
        return Ok(Action::await_change());
    }
    crate::runner::add_finalizer(&api, hr.as_ref()).await?;
    // Gate: suspended.
    if hr.suspended() {
        return Ok(Action::await_change());
    }

    // The cached object may predate this controller's last status write (a reconcile triggered
    // by a watched ConfigMap right after an install would then drop the Released condition):
    // start from the stored status.
    let stored = api.get_status(&name).await.ok().and_then(|o| o.status);
    let old_status = stored.or_else(|| hr.status.clone()).unwrap_or_default();
    let mut status = old_status.clone();
    let last_reconcile = status.last_handled_reconcile_at.clone();
    let reset = take_request(
        &hr,
        RESET_REQUEST_ANNOTATION,
        last_reconcile.as_deref(),
        &mut status.last_handled_reset_at,
    );
    let force = take_request(
        &hr,
        FORCE_REQUEST_ANNOTATION,
        last_reconcile.as_deref(),
        &mut status.last_handled_force_at,
    );
    status.last_handled_reconcile_at = hr.annotations().get(RECONCILE_REQUESTED_AT).cloned();
    if reset {
        clear_failures(&mut status);
    }

    let action = match release(&hr, &shared, &mut status, force).await {
        Ok(action) => action,
        Err(failure) => {
            let generation = hr.meta().generation;
            condition::set(
                &mut status.conditions,
                types::READY,
                false,
                failure.reason,
                &failure.message,
                generation,
                now(),
            );
            if failure.reason != hc::DEPENDENCY_NOT_READY {
                ctx.event(hr.as_ref(), true, failure.reason, failure.message.clone())
                    .await;
            }
            Action::requeue(failure.requeue)
        }
    };
    condition::remove(&mut status.conditions, types::RECONCILING);
    write_status(ctx, &ns, &name, &old_status, &status).await?;
    Ok(action)
}

/// Flux's token requests (`reconcile.fluxcd.io/forceAt`, `…/resetAt`, set by `flux reconcile
/// hr --force/--reset`): each value is handled once (recorded in `last_handled` even when not
/// acted on), and acted on only when it equals `reconcile.fluxcd.io/requestedAt` and that
/// reconcile request is new.
fn take_request(
    hr: &HelmRelease,
    annotation: &str,
    last_handled_reconcile: Option<&str>,
    last_handled: &mut Option<String>,
) -> bool {
    let Some(value) = hr.annotations().get(annotation) else {
        return false;
    };
    let previous = last_handled.replace(value.clone());
    let requested = hr.annotations().get(RECONCILE_REQUESTED_AT);
    requested == Some(value)
        && last_handled_reconcile != Some(value.as_str())
        && previous.as_ref() != Some(value)
}

/// Replaces the status: a merge patch that also clears the fields that were dropped.
async fn write_status(
    ctx: &Context,
    ns: &str,
    name: &str,
    old: &HelmReleaseStatus,
    new: &HelmReleaseStatus,
) -> Result<(), kube::Error> {
    let mut patch = serde_json::to_value(new).unwrap_or(Value::Null);
    if let (Value::Object(p), Ok(Value::Object(o))) = (&mut patch, serde_json::to_value(old)) {
        for key in o.keys() {
            if !p.contains_key(key) {
                p.insert(key.clone(), Value::Null);
            }
        }
    }
    ctx.patch_status::<HelmRelease>(ns, name, &patch).await
}

fn clear_failures(status: &mut HelmReleaseStatus) {
    status.failures = None;
    status.install_failures = None;
    status.upgrade_failures = None;
}

fn bump(counter: &mut Option<i64>) -> i64 {
    let n = counter.unwrap_or(0) + 1;
    *counter = Some(n);
    n
}

fn digest(bytes: &[u8]) -> String {
    let hash = sha2::Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Digest of `spec.postRenderers` (of their JSON); none without post-renderers.
fn post_renderers_digest(hr: &HelmRelease) -> Option<String> {
    if hr.spec.post_renderers.is_empty() {
        return None;
    }
    serde_json::to_vec(&hr.spec.post_renderers)
        .ok()
        .map(|json| digest(&json))
}

/// Digest of `spec.commonMetadata` (of its JSON, maps sorted); none without labels or
/// annotations.
fn common_metadata_digest(hr: &HelmRelease) -> Option<String> {
    let meta = hr.spec.common_metadata.as_ref()?;
    if meta.labels.is_empty() && meta.annotations.is_empty() {
        return None;
    }
    serde_json::to_vec(meta).ok().map(|json| digest(&json))
}

/// Digest of values: of their canonical JSON (keys sorted).
fn config_digest(values: &serde_json::Map<String, Value>) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let b: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::to_value(b).unwrap_or(Value::Null)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    digest(
        serde_json::to_string(&sorted(&Value::Object(values.clone())))
            .unwrap_or_default()
            .as_bytes(),
    )
}

/// The steps after the gates; returns when to reconcile next.
async fn release(
    hr: &HelmRelease,
    shared: &HelmReleaseController,
    status: &mut HelmReleaseStatus,
    force: bool,
) -> Result<Action, Failure> {
    let ctx = &shared.ctx;
    dependencies_ready(hr, ctx).await?;
    let chart = shared.charts.fetch(hr).await.map_err(|message| Failure {
        reason: hc::ARTIFACT_FAILED,
        message,
        requeue: RETRY_TRANSIENT,
    })?;
    status.helm_chart = chart.helm_chart.clone();
    let config = compose_values(hr, ctx).await?;
    let config_digest = config_digest(&config);
    let post_renderers_digest = post_renderers_digest(hr);
    let common_metadata_digest = common_metadata_digest(hr);
    let generation = hr.meta().generation;

    // A new desired state (spec, chart or values) starts with fresh failure counters.
    let desired_changed = status.last_attempted_generation != generation
        || status.last_attempted_revision.as_deref() != Some(chart.revision.as_str())
        || status.last_attempted_revision_digest != chart.digest
        || status.last_attempted_config_digest.as_deref() != Some(config_digest.as_str());
    if desired_changed {
        clear_failures(status);
        condition::remove(&mut status.conditions, types::STALLED);
    }
    status.last_attempted_generation = generation;
    status.last_attempted_revision = Some(chart.revision.clone());
    status.last_attempted_revision_digest = chart.digest.clone();
    status.last_attempted_config_digest = Some(config_digest.clone());
    status.storage_namespace = Some(hr.storage_namespace());

    let rendered = render(hr, shared, &chart, &config).await;
    let storage = Storage::new(ctx.client.clone(), &hr.storage_namespace());
    let history = storage
        .history(&hr.release_name())
        .await
        .map_err(|e| Failure {
            reason: reasons::RECONCILIATION_FAILED,
            message: e.to_string(),
            requeue: RETRY_TRANSIENT,
        })?;
    let last = history.last().cloned();
    let deployed = history
        .iter()
        .rev()
        .find(|r| r.info.status == rstatus::DEPLOYED)
        .cloned();

    // What to do. As helm-controller, a release is in sync when its chart and values are the
    // desired ones; the rendered manifest is only compared when the desired state changed (new
    // spec, chart revision or values), since charts may render differently every time (random
    // passwords, e.g. grafana's admin password) and must not upgrade on every reconcile.
    // Post-renderers and common metadata change the objects without changing chart or values:
    // as in Flux, a release is out of sync until they were applied
    // (`status.observedPostRenderersDigest`, `status.observedCommonMetadataDigest`).
    // A release whose latest version is not the one recorded in status.history was changed by
    // someone else (`helm rollback`/`upgrade` by hand): as in Flux it is "unmanaged" and upgraded.
    let managed = |l: &Release| {
        status
            .history
            .first()
            .is_none_or(|h| h.version == l.version)
    };
    let in_sync = match (&last, &deployed, &rendered) {
        (Some(l), Some(d), Ok(r)) => {
            !force
                && managed(l)
                && l.version == d.version
                && status.observed_post_renderers_digest == post_renderers_digest
                && status.observed_common_metadata_digest == common_metadata_digest
                && (!desired_changed || d.manifest == r.manifest)
                && d.chart_name() == r.chart_name
                && d.chart_version() == r.chart_version
                && config_digest_of(d) == config_digest
        }
        _ => false,
    };
    if in_sync {
        if let Some(d) = &deployed {
            in_sync_steps(hr, shared, status, d).await;
            record_history(status, &history);
            status.observed_generation = generation;
        }
        return Ok(Action::requeue(hr.spec.interval.as_std()));
    }
    let action = if deployed.is_some()
        && last
            .as_ref()
            .is_some_and(|l| l.info.status != rstatus::UNINSTALLED)
    {
        "upgrade"
    } else {
        "install"
    };
    if exhausted(hr, status, action) && !desired_changed && !force {
        let attempts = match action {
            "install" => status.install_failures.unwrap_or(0),
            _ => status.upgrade_failures.unwrap_or(0),
        };
        let message = format!("Failed to {action} after {attempts} attempt(s)");
        condition::set(
            &mut status.conditions,
            types::STALLED,
            true,
            hc::RETRIES_EXHAUSTED,
            &message,
            generation,
            now(),
        );
        status.observed_generation = generation;
        return Ok(Action::await_change());
    }

    let req = request(hr, ctx.client.clone(), action);
    status.last_attempted_release_action = Some(action.to_string());
    condition::set(
        &mut status.conditions,
        types::RECONCILING,
        true,
        reasons::PROGRESSING,
        format!(
            "Running '{action}' action with timeout of {:?}",
            req.timeout
        ),
        generation,
        now(),
    );
    let started = std::time::Instant::now();
    let outcome = match (&rendered, action, &deployed) {
        (Err(message), _, _) => Err((None, message.clone())),
        (Ok(rendered), "install", _) => shared
            .engine
            .install(&req, rendered, config.clone())
            .await
            .map_err(|(r, e)| (r, e.to_string())),
        (Ok(rendered), _, Some(current)) => shared
            .engine
            .upgrade(&req, rendered, config.clone(), current)
            .await
            .map_err(|(r, e)| (r, e.to_string())),
        (Ok(_), _, None) => Err((None, "no deployed release to upgrade".to_string())),
    };
    status.last_attempted_release_action_duration = Some(keelson_api::Duration::from_secs(
        started.elapsed().as_secs(),
    ));
    // The test action, when enabled, is part of the release's success.
    let outcome = match outcome {
        Ok(mut released) => match run_tests(hr, shared, &req, &mut released, status).await {
            Ok(()) => Ok(released),
            Err(message) => Err((Some(released), message)),
        },
        Err(e) => Err(e),
    };
    let requeue = match outcome {
        Ok(released) => {
            succeeded(hr, shared, status, action, &released).await;
            status.observed_post_renderers_digest = post_renderers_digest;
            status.observed_common_metadata_digest = common_metadata_digest;
            status.observed_generation = generation;
            Action::requeue(hr.spec.interval.as_std())
        }
        Err((failed_release, message)) => {
            failed(
                hr,
                shared,
                status,
                action,
                failed_release,
                deployed,
                &message,
            )
            .await
        }
    };
    if let Ok(h) = storage.history(&hr.release_name()).await {
        record_history(status, &h);
    }
    Ok(requeue)
}

fn config_digest_of(release: &Release) -> String {
    config_digest(&release.config)
}

async fn render(
    hr: &HelmRelease,
    shared: &HelmReleaseController,
    chart: &ChartArtifact,
    config: &serde_json::Map<String, Value>,
) -> Result<Rendered, String> {
    let settings = Settings {
        release_name: hr.release_name(),
        namespace: hr.release_namespace(),
        kube_version: shared.kube_version.clone(),
        skip_schema_validation: hr
            .spec
            .install
            .as_ref()
            .and_then(|i| i.disable_schema_validation)
            .unwrap_or(false),
    };
    let strategy = hr.spec.post_render_strategy.as_deref();
    let strategy = Strategy::parse(strategy).ok_or_else(|| {
        format!(
            "spec.postRenderStrategy: unknown value '{}' (expected combined, separate or nohooks)",
            strategy.unwrap_or_default()
        )
    })?;
    let post_renderers = hr.spec.post_renderers.clone();
    let archive = chart.archive.clone();
    let origin = chart.origin.clone();
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let mut rendered = keelson_release::render::render(&origin, &archive, &config, &settings)
            .map_err(|e| error_chain(&e))?;
        keelson_release::render::post_render(&mut rendered, &post_renderers, strategy)
            .map_err(|e| error_chain(&e))?;
        Ok(rendered)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// An error and its causes on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// Whether the retries of `action` are spent.
fn exhausted(hr: &HelmRelease, status: &HelmReleaseStatus, action: &str) -> bool {
    let (retries, failures) = match action {
        "install" => (
            hr.spec
                .install
                .as_ref()
                .and_then(|i| i.remediation.as_ref())
                .map_or(0, |r| r.retries()),
            status.install_failures.unwrap_or(0),
        ),
        _ => (
            hr.spec
                .upgrade
                .as_ref()
                .and_then(|u| u.remediation.as_ref())
                .map_or(0, |r| r.retries()),
            status.upgrade_failures.unwrap_or(0),
        ),
    };
    retries >= 0 && failures > retries
}

fn release_ref(r: &Release) -> String {
    format!("{}/{}.v{}", r.namespace, r.name, r.version)
}

fn chart_ref(r: &Release) -> String {
    format!("{}@{}", r.chart_name(), r.chart_version())
}

async fn succeeded(
    hr: &HelmRelease,
    shared: &HelmReleaseController,
    status: &mut HelmReleaseStatus,
    action: &str,
    released: &Release,
) {
    let generation = hr.meta().generation;
    let (reason, verb) = match action {
        "install" => (hc::INSTALL_SUCCEEDED, "install"),
        _ => (hc::UPGRADE_SUCCEEDED, "upgrade"),
    };
    let message = format!(
        "Helm {verb} succeeded for release {} with chart {}",
        release_ref(released),
        chart_ref(released)
    );
    for type_ in [hc::RELEASED, types::READY] {
        condition::set(
            &mut status.conditions,
            type_,
            true,
            reason,
            &message,
            generation,
            now(),
        );
    }
    condition::remove(&mut status.conditions, hc::REMEDIATED);
    condition::remove(&mut status.conditions, types::STALLED);
    condition::remove(&mut status.conditions, hc::DRIFTED);
    clear_failures(status);
    status.last_release_revision = Some(released.version);
    let req = request(hr, shared.ctx.client.clone(), action);
    if let Ok(ids) = shared.engine.inventory(released, &req).await {
        status.inventory = Some(inventory_of(&ids));
    }
    shared.ctx.event(hr, false, reason, message).await;
}

fn inventory_of(ids: &[keelson_manifest::ObjectId]) -> ResourceInventory {
    let mut seen = BTreeSet::new();
    ResourceInventory {
        entries: ids
            .iter()
            .filter(|id| seen.insert(id.inventory_id()))
            .map(|id| ResourceRef {
                id: id.inventory_id(),
                v: id.version.clone(),
            })
            .collect(),
    }
}

/// Records a failed action and remediates as configured; returns when to try again.
async fn failed(
    hr: &HelmRelease,
    shared: &HelmReleaseController,
    status: &mut HelmReleaseStatus,
    action: &str,
    failed_release: Option<Release>,
    previous: Option<Release>,
    message: &str,
) -> Action {
    let ctx = &shared.ctx;
    let generation = hr.meta().generation;
    bump(&mut status.failures);
    let (reason, verb, failures, retries, remediate_last) = match action {
        "install" => {
            let r = hr
                .spec
                .install
                .as_ref()
                .and_then(|i| i.remediation.clone())
                .unwrap_or_default();
            (
                hc::INSTALL_FAILED,
                "install",
                bump(&mut status.install_failures),
                r.retries(),
                r.remediate_last_failure(),
            )
        }
        _ => {
            let r = hr
                .spec
                .upgrade
                .as_ref()
                .and_then(|u| u.remediation.clone())
                .unwrap_or_default();
            (
                hc::UPGRADE_FAILED,
                "upgrade",
                bump(&mut status.upgrade_failures),
                r.retries(),
                r.remediate_last_failure(),
            )
        }
    };
    let target = failed_release.as_ref().map_or_else(
        || format!("{}/{}", hr.release_namespace(), hr.release_name()),
        release_ref,
    );
    let released_message = format!("Helm {verb} failed for release {target}: {message}");
    condition::set(
        &mut status.conditions,
        hc::RELEASED,
        false,
        reason,
        &released_message,
        generation,
        now(),
    );
    condition::set(
        &mut status.conditions,
        types::READY,
        false,
        reason,
        &released_message,
        generation,
        now(),
    );
    ctx.event(hr, true, reason, released_message.clone()).await;

    let remaining = retries < 0 || failures <= retries;
    if remaining || remediate_last {
        remediate(hr, shared, status, action, previous).await;
    }
    if remaining {
        Action::requeue(RETRY_SOON)
    } else {
        let message = format!("Failed to {verb} after {failures} attempt(s)");
        condition::set(
            &mut status.conditions,
            types::STALLED,
            true,
            hc::RETRIES_EXHAUSTED,
            &message,
            generation,
            now(),
        );
        status.observed_generation = generation;
        Action::await_change()
    }
}

/// Uninstalls after a failed install; rolls back (or uninstalls) after a failed upgrade.
async fn remediate(
    hr: &HelmRelease,
    shared: &HelmReleaseController,
    status: &mut HelmReleaseStatus,
    action: &str,
    previous: Option<Release>,
) {
    let ctx = &shared.ctx;
    let generation = hr.meta().generation;
    let strategy = match action {
        "install" => "uninstall",
        _ => hr
            .spec
            .upgrade
            .as_ref()
            .and_then(|u| u.remediation.as_ref())
            .map_or("rollback", |r| r.strategy()),
    };
    let (ok, reason, message) = match (strategy, previous) {
        ("rollback", Some(previous)) => {
            let req = request(hr, ctx.client.clone(), "rollback");
            match shared.engine.rollback(&req, &previous).await {
                Ok(_) => (
                    true,
                    hc::ROLLBACK_SUCCEEDED,
                    format!(
                        "Helm rollback to previous release {} with chart {} succeeded",
                        release_ref(&previous),
                        chart_ref(&previous)
                    ),
                ),
                Err((_, e)) => (
                    false,
                    hc::ROLLBACK_FAILED,
                    format!(
                        "Helm rollback to previous release {} with chart {} failed: {e}",
                        release_ref(&previous),
                        chart_ref(&previous)
                    ),
                ),
            }
        }
        _ => {
            let req = request(hr, ctx.client.clone(), "uninstall");
            match shared.engine.uninstall(&req).await {
                Ok(Some(r)) => (
                    true,
                    hc::UNINSTALL_SUCCEEDED,
                    format!(
                        "Helm uninstall remediation for release {} with chart {} succeeded",
                        release_ref(&r),
                        chart_ref(&r)
                    ),
                ),
                Ok(None) => (
                    true,
                    hc::UNINSTALL_SUCCEEDED,
                    "Helm uninstall remediation: no release to uninstall".to_string(),
                ),
                Err(e) => (
                    false,
                    hc::UNINSTALL_FAILED,
                    format!("Helm uninstall remediation failed: {e}"),
                ),
            }
        }
    };
    condition::set(
        &mut status.conditions,
        hc::REMEDIATED,
        ok,
        reason,
        &message,
        generation,
        now(),
    );
    // Ready reports the remediation, as Flux's summary does.
    condition::set(
        &mut status.conditions,
        types::READY,
        false,
        reason,
        &message,
        generation,
        now(),
    );
    ctx.event(hr, !ok, reason, message).await;
}

/// Runs the chart's tests when `spec.test.enable`; a failure counts unless ignored.
async fn run_tests(
    hr: &HelmRelease,
    shared: &HelmReleaseController,
    req: &Request,
    released: &mut Release,
    status: &mut HelmReleaseStatus,
) -> Result<(), String> {
    let Some(test) = hr.spec.test.as_ref().filter(|t| t.enable.unwrap_or(false)) else {
        condition::remove(&mut status.conditions, hc::TEST_SUCCESS);
        return Ok(());
    };
    let generation = hr.meta().generation;
    let timeout = test.timeout.as_ref().map_or(hr.timeout(), |d| d.as_std());
    let count = released
        .hooks
        .iter()
        .filter(|h| h.events.iter().any(|e| e == "test"))
        .count();
    match shared.engine.test(req, released, timeout).await {
        Ok(()) => {
            let message = format!(
                "Helm test succeeded for release {} with chart {}: {count} test hook(s) completed successfully",
                release_ref(released),
                chart_ref(released)
            );
            condition::set(
                &mut status.conditions,
                hc::TEST_SUCCESS,
                true,
                hc::TEST_SUCCEEDED,
                &message,
                generation,
                now(),
            );
            shared
                .ctx
                .event(hr, false, hc::TEST_SUCCEEDED, message)
                .await;
            Ok(())
        }
        Err(e) => {
            let message = format!(
                "Helm test failed for release {} with chart {}: {e}",
                release_ref(released),
                chart_ref(released)
            );
            condition::set(
                &mut status.conditions,
                hc::TEST_SUCCESS,
                false,
                hc::TEST_FAILED,
                &message,
                generation,
                now(),
            );
            shared
                .ctx
                .event(hr, true, hc::TEST_FAILED, message.clone())
                .await;
            if test.ignore_failures.unwrap_or(false) {
                Ok(())
            } else {
                Err(message)
            }
        }
    }
}

/// The release matches the desired state: check for drift, keep Ready.
async fn in_sync_steps(
    hr: &HelmRelease,
    shared: &HelmReleaseController,
    status: &mut HelmReleaseStatus,
    deployed: &Release,
) {
    let generation = hr.meta().generation;
    if !condition::is_true(&status.conditions, types::READY) {
        let (reason, message) = condition::get(&status.conditions, hc::RELEASED)
            .filter(|c| c.status == "True")
            .map(|c| (c.reason.clone(), c.message.clone()))
            .unwrap_or_else(|| {
                (
                    reasons::RECONCILIATION_SUCCEEDED.to_string(),
                    format!(
                        "Helm release {} with chart {} is in sync",
                        release_ref(deployed),
                        chart_ref(deployed)
                    ),
                )
            });
        condition::set(
            &mut status.conditions,
            types::READY,
            true,
            &reason,
            message,
            generation,
            now(),
        );
        condition::remove(&mut status.conditions, types::STALLED);
    }
    let mode = hr.drift_mode();
    if mode != "enabled" && mode != "warn" {
        condition::remove(&mut status.conditions, hc::DRIFTED);
        return;
    }
    let req = request(hr, shared.ctx.client.clone(), "upgrade");
    let ignore = hr
        .spec
        .drift_detection
        .as_ref()
        .map(|d| d.ignore.clone())
        .unwrap_or_default();
    let (drifts, objects) = match shared.engine.detect_drift(deployed, &req, &ignore).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(%e, "drift detection failed");
            return;
        }
    };
    if drifts.is_empty() {
        condition::remove(&mut status.conditions, hc::DRIFTED);
        return;
    }
    let list: Vec<String> = drifts.iter().map(|d| d.summary()).collect();
    let summary = format!(
        "Cluster state of release {} has drifted from the desired state:\n{}",
        release_ref(deployed),
        list.join("\n")
    );
    if mode == "warn" {
        condition::set(
            &mut status.conditions,
            hc::DRIFTED,
            true,
            hc::DRIFT_DETECTED,
            &summary,
            generation,
            now(),
        );
        shared
            .ctx
            .event(hr, true, hc::DRIFT_DETECTED, summary)
            .await;
        return;
    }
    match shared.engine.correct_drift(objects, &req).await {
        Ok(()) => {
            condition::remove(&mut status.conditions, hc::DRIFTED);
            let message = format!(
                "Cluster state of release {} has been corrected:\n{}",
                release_ref(deployed),
                list.join("\n")
            );
            shared.ctx.event(hr, false, "DriftCorrected", message).await;
        }
        Err(e) => {
            let message = format!("{summary}\nfailed to correct: {e}");
            condition::set(
                &mut status.conditions,
                hc::DRIFTED,
                true,
                hc::DRIFT_DETECTED,
                &message,
                generation,
                now(),
            );
            shared
                .ctx
                .event(hr, true, hc::DRIFT_DETECTED, message)
                .await;
        }
    }
}

/// The history in status: newest first, down to the latest deployed or superseded version.
fn record_history(status: &mut HelmReleaseStatus, history: &[Release]) {
    let mut snapshots = Vec::new();
    for r in history.iter().rev() {
        snapshots.push(Snapshot {
            api_version: Some("v2".into()),
            digest: keelson_release::model::encode(r)
                .map(|e| digest(e.as_bytes()))
                .unwrap_or_default(),
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            version: r.version,
            status: r.info.status.clone(),
            action: None,
            chart_name: r.chart_name().to_string(),
            chart_version: r.chart_version().to_string(),
            app_version: Some(r.app_version().to_string()).filter(|a| !a.is_empty()),
            config_digest: config_digest_of(r),
            first_deployed: r.info.first_deployed.clone().unwrap_or_default(),
            last_deployed: r.info.last_deployed.clone().unwrap_or_default(),
            deleted: r.info.deleted.clone(),
            test_hooks: None,
            oci_digest: None,
        });
        let settled = r.info.status == rstatus::DEPLOYED || r.info.status == rstatus::SUPERSEDED;
        if (settled && snapshots.len() > 1) || snapshots.len() >= 5 {
            break;
        }
    }
    status.history = snapshots;
}

async fn compose_values(
    hr: &HelmRelease,
    ctx: &Context,
) -> Result<serde_json::Map<String, Value>, Failure> {
    let ns = hr.namespace().unwrap_or_default();
    let fail = |message: String| Failure {
        reason: hc::INIT_FAILED,
        message,
        requeue: RETRY_TRANSIENT,
    };
    let mut data = Vec::with_capacity(hr.spec.values_from.len());
    for r in &hr.spec.values_from {
        let found: Option<BTreeMap<String, String>> = match r.kind.as_str() {
            "ConfigMap" => Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&r.name)
                .await
                .map_err(|e| fail(format!("failed to get ConfigMap '{ns}/{}': {e}", r.name)))?
                .map(|cm| {
                    let mut d = cm.data.unwrap_or_default();
                    for (k, v) in cm.binary_data.unwrap_or_default() {
                        d.insert(k, String::from_utf8_lossy(&v.0).into_owned());
                    }
                    d
                }),
            "Secret" => Api::<Secret>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&r.name)
                .await
                .map_err(|e| fail(format!("failed to get Secret '{ns}/{}': {e}", r.name)))?
                .map(|s| {
                    s.data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                        .collect()
                }),
            _ => None,
        };
        data.push(found);
    }
    let sources: Vec<keelson_release::values::Source<'_>> = hr
        .spec
        .values_from
        .iter()
        .zip(data)
        .map(|(reference, data)| keelson_release::values::Source { reference, data })
        .collect();
    // The composed values hold the engine's non-Send values: convert them before any await.
    keelson_release::values::compose(&ns, &sources, hr.spec.values.as_ref())
        .map(|values| keelson_release::values::to_json(&values))
        .map_err(|e| fail(e.to_string()))
}

/// Every dependency exists and is Ready at its current generation.
async fn dependencies_ready(hr: &HelmRelease, ctx: &Context) -> Result<(), Failure> {
    let own_ns = hr.namespace().unwrap_or_default();
    for dep in &hr.spec.depends_on {
        let ns = dep.namespace.clone().unwrap_or_else(|| own_ns.clone());
        let not_ready = |message: String| Failure {
            reason: hc::DEPENDENCY_NOT_READY,
            message,
            requeue: ctx.requeue_dependency,
        };
        let api: Api<HelmRelease> = Api::namespaced(ctx.client.clone(), &ns);
        let found = api
            .get_opt(&dep.name)
            .await
            .map_err(|e| not_ready(format!("unable to get dependency '{ns}/{}': {e}", dep.name)))?
            .ok_or_else(|| not_ready(format!("dependency '{ns}/{}' not found", dep.name)))?;
        let status = found.status.clone().unwrap_or_default();
        let ready = condition::is_true(&status.conditions, types::READY)
            && status.observed_generation == found.meta().generation;
        if !ready {
            return Err(not_ready(format!(
                "dependency '{ns}/{}' is not ready",
                dep.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_digest_ignores_key_order() {
        let a: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"a": 1, "b": {"c": 2, "d": 3}}"#).unwrap_or_default();
        let b: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"b": {"d": 3, "c": 2}, "a": 1}"#).unwrap_or_default();
        assert_eq!(config_digest(&a), config_digest(&b));
    }
}
