//! `keelson reconcile`, `keelson suspend` and `keelson resume`: ask the controller for a
//! reconcile now (reconcile.fluxcd.io/requestedAt), wait for it and report the outcome; stop
//! and restart reconciling.

use std::time::Duration;

use anyhow::Context as _;
use keelson_api::RECONCILE_REQUESTED_AT;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::cluster::ClusterArgs;
use super::kinds::{FluxKind as Kind, condition};
use super::runtime::{block_on, parse_duration};
use crate::Exit;

/// The kinds these commands act on.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Target {
    /// A source.
    Source {
        /// The kind of source.
        #[command(subcommand)]
        kind: SourceKind,
    },
    /// A Kustomization.
    #[command(alias = "ks")]
    Kustomization(NameArgs),
    /// A HelmRelease.
    #[command(alias = "hr")]
    Helmrelease(NameArgs),
}

/// Source kinds.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SourceKind {
    /// A GitRepository.
    Git(NameArgs),
    /// An OCIRepository.
    Oci(NameArgs),
    /// A HelmRepository.
    Helm(NameArgs),
    /// A HelmChart.
    Chart(NameArgs),
}

/// The object(s) to act on.
#[derive(Debug, Clone, clap::Args)]
pub struct NameArgs {
    /// The object's name.
    pub name: Option<String>,
    /// Act on every object of the kind in the namespace (suspend/resume).
    #[arg(long)]
    pub all: bool,
    /// Reconcile the object's source first (its sourceRef, chartRef or HelmChart).
    #[arg(long)]
    pub with_source: bool,
    /// How long to wait for the outcome.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The cluster and namespace.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Arguments of `keelson reconcile`, `suspend` and `resume`.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// What to act on.
    #[command(subcommand)]
    pub target: Target,
}

/// The kind and the arguments `target` names.
pub fn resolve(target: &Target) -> (Kind, &NameArgs) {
    match target {
        Target::Source { kind } => match kind {
            SourceKind::Git(args) => (Kind::git_repository(), args),
            SourceKind::Oci(args) => (Kind::oci_repository(), args),
            SourceKind::Helm(args) => (Kind::helm_repository(), args),
            SourceKind::Chart(args) => (Kind::helm_chart(), args),
        },
        Target::Kustomization(args) => (Kind::kustomization(), args),
        Target::Helmrelease(args) => (Kind::helm_release(), args),
    }
}

/// The outcome of a reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Ready=True?
    pub ready: bool,
    /// The Ready reason.
    pub reason: String,
    /// The Ready message.
    pub message: String,
    /// The revision applied or fetched.
    pub revision: Option<String>,
}

/// Sets requestedAt on `name` and waits until the controller has handled it.
pub async fn request_and_wait(
    client: &Client,
    kind: &Kind,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let api = kind.api(client, ns);
    let current = api
        .get_opt(name)
        .await
        .with_context(|| format!("failed to read {} {ns}/{name}", kind.kind))?
        .with_context(|| format!("{} {ns}/{name} not found", kind.kind))?;
    if current.data["spec"]["suspend"] == true {
        anyhow::bail!("{} {ns}/{name} is suspended; resume it first", kind.kind);
    }
    let token = k8s_openapi::jiff::Timestamp::now().to_string();
    let patch = json!({"metadata": {"annotations": {RECONCILE_REQUESTED_AT: token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("failed to annotate {} {ns}/{name}", kind.kind))?;
    wait_handled(&api, kind, ns, name, &token, timeout).await
}

async fn wait_handled(
    api: &Api<DynamicObject>,
    kind: &Kind,
    ns: &str,
    name: &str,
    token: &str,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let object = api
            .get(name)
            .await
            .with_context(|| format!("failed to read {} {ns}/{name}", kind.kind))?;
        let value = serde_json::to_value(&object).unwrap_or(Value::Null);
        let handled = value["status"]["lastHandledReconcileAt"] == token;
        let reconciling = condition(&value, "Reconciling").is_some_and(|c| c["status"] == "True");
        if handled
            && !reconciling
            && let Some(ready) = condition(&value, "Ready")
        {
            let revision = Some((kind.revision)(&value)).filter(|r| !r.is_empty());
            return Ok(Outcome {
                ready: ready["status"] == "True",
                reason: ready["reason"].as_str().unwrap_or_default().into(),
                message: ready["message"].as_str().unwrap_or_default().into(),
                revision,
            });
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "{} {ns}/{name}: the controller did not handle the request within {timeout:?} (is it running?)",
                kind.kind
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn report(kind: &Kind, ns: &str, name: &str, outcome: &Outcome) -> Exit {
    if outcome.ready {
        let revision = outcome.revision.as_deref().unwrap_or("-");
        eprintln!(
            "✔ {} {ns}/{name} reconciled: revision {revision}",
            kind.kind
        );
        Exit::Success
    } else {
        eprintln!(
            "✗ {} {ns}/{name}: {}: {}",
            kind.kind, outcome.reason, outcome.message
        );
        Exit::Failure
    }
}

/// `keelson reconcile …`.
pub fn reconcile(args: &ReconcileArgs) -> anyhow::Result<Exit> {
    let (kind, target) = resolve(&args.target);
    let name = target.name.clone().context("a name is required")?;
    block_on(async {
        let client = target.cluster.client().await?;
        let ns = &target.cluster.namespace;
        if target.with_source {
            let object = kind
                .api(&client, ns)
                .get(&name)
                .await
                .with_context(|| format!("failed to read {} {ns}/{name}", kind.kind))?;
            let (source, source_ns, source_name) = source_of(&kind, &object.data, ns, &name)?;
            eprintln!("► reconciling {} {source_ns}/{source_name}", source.kind);
            let outcome =
                request_and_wait(&client, &source, &source_ns, &source_name, target.timeout)
                    .await?;
            if report(&source, &source_ns, &source_name, &outcome) != Exit::Success {
                return Ok(Exit::Failure);
            }
        }
        eprintln!("► reconciling {} {ns}/{name}", kind.kind);
        let outcome = request_and_wait(&client, &kind, ns, &name, target.timeout).await?;
        Ok(report(&kind, ns, &name, &outcome))
    })
}

/// The source `--with-source` reconciles first: a Kustomization's `sourceRef`; a HelmRelease's
/// `chartRef`, or the HelmChart made for its `spec.chart` (`status.helmChart`, else Flux's
/// name `<namespace>-<name>` in the namespace of the chart's sourceRef).
fn source_of(
    kind: &Kind,
    object: &Value,
    ns: &str,
    name: &str,
) -> anyhow::Result<(Kind, String, String)> {
    let by_ref = |reference: &Value| -> anyhow::Result<(Kind, String, String)> {
        let ref_kind = reference["kind"].as_str().unwrap_or_default();
        let source = Kind::by_name(ref_kind)
            .filter(|k| k.kind != "Kustomization" && k.kind != "HelmRelease")
            .with_context(|| format!("--with-source: {ref_kind:?} sources are not supported"))?;
        Ok((
            source,
            reference["namespace"].as_str().unwrap_or(ns).to_string(),
            reference["name"].as_str().unwrap_or_default().to_string(),
        ))
    };
    match kind.kind {
        "Kustomization" => by_ref(&object["spec"]["sourceRef"]),
        "HelmRelease" if object["spec"]["chartRef"].is_object() => {
            by_ref(&object["spec"]["chartRef"])
        }
        "HelmRelease" => {
            if let Some((chart_ns, chart_name)) = object["status"]["helmChart"]
                .as_str()
                .and_then(|c| c.split_once('/'))
            {
                return Ok((Kind::helm_chart(), chart_ns.into(), chart_name.into()));
            }
            let chart_ns = object["spec"]["chart"]["spec"]["sourceRef"]["namespace"]
                .as_str()
                .unwrap_or(ns);
            Ok((Kind::helm_chart(), chart_ns.into(), format!("{ns}-{name}")))
        }
        other => anyhow::bail!("--with-source does not apply to {other} objects"),
    }
}

/// `keelson suspend …` (`suspend == true`) and `keelson resume …`.
pub fn set_suspended(args: &ReconcileArgs, suspend: bool) -> anyhow::Result<Exit> {
    let (kind, target) = resolve(&args.target);
    anyhow::ensure!(target.name.is_some() != target.all, "give a name or --all");
    block_on(async {
        let client = target.cluster.client().await?;
        let ns = &target.cluster.namespace;
        let api = kind.api(&client, ns);
        let names: Vec<String> = match &target.name {
            Some(name) => vec![name.clone()],
            None => api
                .list(&ListParams::default())
                .await
                .with_context(|| format!("failed to list {} in {ns}", kind.kind))?
                .into_iter()
                .map(|o| o.name_any())
                .collect(),
        };
        let mut exit = Exit::Success;
        for name in names {
            let patch =
                json!({"spec": {"suspend": if suspend { json!(true) } else { Value::Null }}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .with_context(|| format!("failed to update {} {ns}/{name}", kind.kind))?;
            if suspend {
                eprintln!("✔ {} {ns}/{name} suspended", kind.kind);
                continue;
            }
            eprintln!(
                "► {} {ns}/{name} resumed; waiting for a reconcile",
                kind.kind
            );
            let outcome = request_and_wait(&client, &kind, ns, &name, target.timeout).await?;
            if report(&kind, ns, &name, &outcome) != Exit::Success {
                exit = Exit::Failure;
            }
        }
        Ok(exit)
    })
}
