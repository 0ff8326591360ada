//! `keelson create kustomization|helmrelease|source helm|source oci`: build the object as
//! `flux create …` builds it — same flags, same defaults, same refusals, and with `--export`
//! the same YAML text — or apply it and wait until the controller reports Ready.

use std::time::Instant;

use anyhow::Context as _;
use keelson_api::Duration;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

use super::create::{
    CreateCommon, FIELD_MANAGER, export_yaml, go_form, parse_duration, parse_labels,
};
use super::kinds::FluxKind;
use super::output::{self, progress};
use crate::Exit;

/// Arguments of `keelson create kustomization`.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateKustomizationArgs {
    /// The Kustomization's name.
    pub name: String,
    /// The source: `[<kind>/]<name>[.<namespace>]`, kind GitRepository (default), OCIRepository
    /// or Bucket.
    #[arg(long)]
    pub source: Option<String>,
    /// The path in the source (made relative: `apps` → `./apps`).
    #[arg(long, default_value = "./")]
    pub path: String,
    /// Delete what is no longer in the source.
    #[arg(long)]
    pub prune: bool,
    /// Kustomizations that must be Ready first: `[<namespace>/]<name>`.
    #[arg(long, value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// Objects whose health gates readiness: `<kind>/<name>.<namespace>`.
    #[arg(long, value_delimiter = ',')]
    pub health_check: Vec<String>,
    /// How long health checks may take (spec.timeout).
    #[arg(long, value_parser = parse_duration)]
    pub health_check_timeout: Option<Duration>,
    /// Wait for every applied object to be healthy (health checks are then not listed).
    #[arg(long)]
    pub wait: bool,
    /// The namespace every object is placed in.
    #[arg(long)]
    pub target_namespace: Option<String>,
    /// The ServiceAccount to impersonate.
    #[arg(long)]
    pub service_account: Option<String>,
    /// The retry interval after a failure.
    #[arg(long, value_parser = parse_duration)]
    pub retry_interval: Option<Duration>,
    /// The decryption provider (`sops`).
    #[arg(long)]
    pub decryption_provider: Option<String>,
    /// The Secret holding the decryption keys.
    #[arg(long)]
    pub decryption_secret: Option<String>,
    /// A Secret with a kubeconfig for a remote cluster.
    #[arg(long)]
    pub kubeconfig_secret_ref: Option<String>,
    /// Flags of every create command.
    #[command(flatten)]
    pub common: CreateCommon,
}

/// Arguments of `keelson create helmrelease`.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateHelmReleaseArgs {
    /// The HelmRelease's name.
    pub name: String,
    /// The chart's source: `<kind>/<name>[.<namespace>]`, kind HelmRepository, GitRepository or
    /// Bucket.
    #[arg(long)]
    pub source: Option<String>,
    /// The chart name (HelmRepository) or path (GitRepository, Bucket).
    #[arg(long)]
    pub chart: Option<String>,
    /// The chart version or semver range.
    #[arg(long)]
    pub chart_version: Option<String>,
    /// A ready chart instead of --source/--chart: `<kind>/<name>[.<namespace>]`, kind
    /// OCIRepository or HelmChart.
    #[arg(long)]
    pub chart_ref: Option<String>,
    /// HelmReleases that must be Ready first: `[<namespace>/]<name>`.
    #[arg(long, value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// The release name (default: `[<target-namespace>-]<name>`).
    #[arg(long)]
    pub release_name: Option<String>,
    /// The namespace the release is installed in.
    #[arg(long)]
    pub target_namespace: Option<String>,
    /// Create the target namespace on install.
    #[arg(long)]
    pub create_target_namespace: bool,
    /// The namespace of the release storage (default: the target namespace).
    #[arg(long)]
    pub storage_namespace: Option<String>,
    /// The ServiceAccount to impersonate.
    #[arg(long)]
    pub service_account: Option<String>,
    /// YAML files of values, merged in order.
    #[arg(long, value_delimiter = ',')]
    pub values: Vec<std::path::PathBuf>,
    /// Values from `Secret/<name>` or `ConfigMap/<name>`.
    #[arg(long, value_delimiter = ',')]
    pub values_from: Vec<String>,
    /// CRDs policy on upgrade: Skip, Create or CreateReplace (install always creates them).
    #[arg(long)]
    pub crds: Option<String>,
    /// When a new chart is built: ChartVersion or Revision.
    #[arg(long, default_value = "ChartVersion")]
    pub reconcile_strategy: String,
    /// A Secret with a kubeconfig for a remote cluster.
    #[arg(long)]
    pub kubeconfig_secret_ref: Option<String>,
    /// Flags of every create command.
    #[command(flatten)]
    pub common: CreateCommon,
}

/// Arguments of `keelson create source helm`.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateSourceHelmArgs {
    /// The HelmRepository's name.
    pub name: String,
    /// The repository URL: `https://`, `http://` or `oci://`.
    #[arg(long)]
    pub url: String,
    /// A Secret with the credentials.
    #[arg(long)]
    pub secret_ref: Option<String>,
    /// Send the credentials to hosts other than the repository's.
    #[arg(long)]
    pub pass_credentials: bool,
    /// The OCI provider (`generic`, `aws`, `azure`, `gcp`) for `oci://` URLs.
    #[arg(long)]
    pub oci_provider: Option<String>,
    /// Flags of every create command.
    #[command(flatten)]
    pub common: CreateCommon,
}

/// Arguments of `keelson create source oci`.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateSourceOciArgs {
    /// The OCIRepository's name.
    pub name: String,
    /// The artifact's repository URL (`oci://…`).
    #[arg(long)]
    pub url: String,
    /// The tag to pull.
    #[arg(long)]
    pub tag: Option<String>,
    /// A semver range: the highest matching tag is pulled.
    #[arg(long)]
    pub tag_semver: Option<String>,
    /// The digest to pull.
    #[arg(long)]
    pub digest: Option<String>,
    /// A Secret with registry credentials (dockerconfigjson).
    #[arg(long)]
    pub secret_ref: Option<String>,
    /// Paths to leave out of the artifact, in `.gitignore` form.
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
    /// The provider of registry credentials (`generic`, `aws`, `azure`, `gcp`).
    #[arg(long, default_value = "generic")]
    pub provider: String,
    /// Plain HTTP to the registry.
    #[arg(long)]
    pub insecure: bool,
    /// Flags of every create command.
    #[command(flatten)]
    pub common: CreateCommon,
}

/// Flux's object-name rule (an RFC 1123 label of at least two characters).
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let bytes = name.as_bytes();
    let ok = (2..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-';
    anyhow::ensure!(
        ok,
        "name '{name}' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'"
    );
    Ok(())
}

/// `[<kind>/]<name>[.<namespace>]` with `kind` one of `kinds` (any case) or `default_kind`.
fn object_ref(
    text: &str,
    kinds: &[&str],
    default_kind: Option<&str>,
    what: &str,
) -> anyhow::Result<Value> {
    let (kind, rest) = match text.split_once('/') {
        Some((kind, rest)) => {
            let canonical = kinds
                .iter()
                .find(|k| k.eq_ignore_ascii_case(kind))
                .with_context(|| {
                    format!(
                        "{what} kind '{kind}' is not supported, must be one of: {}",
                        kinds.join(", ")
                    )
                })?;
            (*canonical, rest)
        }
        None => (
            default_kind.with_context(|| {
                format!("invalid {what} '{text}', must be in format <kind>/<name>")
            })?,
            text,
        ),
    };
    let mut reference = Map::new();
    reference.insert("kind".into(), kind.into());
    match rest.split_once('.') {
        Some((name, namespace)) => {
            reference.insert("name".into(), name.into());
            reference.insert("namespace".into(), namespace.into());
        }
        None => {
            reference.insert("name".into(), rest.into());
        }
    }
    Ok(Value::Object(reference))
}

/// `[<namespace>/]<name>` → `{name, namespace?}` (the namespace is the part before the first `/`).
fn dependency(text: &str) -> Value {
    match text.split_once('/') {
        Some((namespace, name)) => json!({"name": name, "namespace": namespace}),
        None => json!({"name": text}),
    }
}

fn duration_text(duration: &Duration) -> anyhow::Result<String> {
    Ok(go_form(duration)?.to_string())
}

/// The object's metadata and the fields every kind has.
fn object(
    api_version: &str,
    kind: &str,
    name: &str,
    common: &CreateCommon,
    mut spec: Map<String, Value>,
) -> anyhow::Result<Value> {
    check_name(name)?;
    spec.insert("interval".into(), duration_text(&common.interval)?.into());
    let mut metadata = json!({"name": name, "namespace": common.cluster.namespace});
    let labels = parse_labels(&common.labels)?;
    if !labels.is_empty() {
        metadata["labels"] = json!(labels);
    }
    Ok(json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}))
}

/// The Kustomization these arguments describe, as `flux create kustomization` builds it.
pub fn kustomization(args: &CreateKustomizationArgs) -> anyhow::Result<Value> {
    let source = args.source.as_deref().context("source is required")?;
    let source_ref = object_ref(
        source,
        &["OCIRepository", "GitRepository", "Bucket"],
        Some("GitRepository"),
        "source",
    )
    .with_context(|| format!("invalid argument \"{source}\" for \"--source\" flag"))?;
    let mut spec = Map::new();
    let path = args.path.trim_start_matches("./").trim_start_matches('/');
    spec.insert("path".into(), format!("./{path}").into());
    spec.insert("prune".into(), args.prune.into());
    spec.insert("sourceRef".into(), source_ref);
    if !args.depends_on.is_empty() {
        spec.insert(
            "dependsOn".into(),
            args.depends_on.iter().map(|d| dependency(d)).collect(),
        );
    }
    let mut checks = Vec::new();
    for check in &args.health_check {
        let parsed = check.split_once('/').and_then(|(kind, rest)| {
            let (name, namespace) = rest.split_once('.')?;
            (!kind.is_empty() && !name.is_empty() && !namespace.is_empty())
                .then(|| json!({"kind": kind, "name": name, "namespace": namespace}))
        });
        checks.push(parsed.with_context(|| {
            format!("invalid health check '{check}' must be in the format 'kind/name.namespace'")
        })?);
    }
    if args.wait {
        spec.insert("wait".into(), true.into());
    } else if !checks.is_empty() {
        spec.insert("healthChecks".into(), checks.into());
    }
    if let Some(timeout) = &args.health_check_timeout {
        spec.insert("timeout".into(), duration_text(timeout)?.into());
    }
    if let Some(ns) = args.target_namespace.as_deref().filter(|s| !s.is_empty()) {
        spec.insert("targetNamespace".into(), ns.into());
    }
    if let Some(sa) = args.service_account.as_deref().filter(|s| !s.is_empty()) {
        spec.insert("serviceAccountName".into(), sa.into());
    }
    if let Some(retry) = &args.retry_interval {
        spec.insert("retryInterval".into(), duration_text(retry)?.into());
    }
    if let Some(provider) = &args.decryption_provider {
        anyhow::ensure!(
            provider == "sops",
            "invalid argument \"{provider}\" for \"--decryption-provider\" flag: unsupported decryption provider '{provider}', must be one of: sops"
        );
        let mut decryption = json!({"provider": provider});
        if let Some(secret) = &args.decryption_secret {
            decryption["secretRef"] = json!({"name": secret});
        }
        spec.insert("decryption".into(), decryption);
    }
    if let Some(secret) = &args.kubeconfig_secret_ref {
        spec.insert("kubeConfig".into(), json!({"secretRef": {"name": secret}}));
    }
    object(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        &args.name,
        &args.common,
        spec,
    )
}

/// Deep-merges `overlay` into `base` (maps merge, everything else replaces), as Helm merges
/// values files.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// The HelmRelease these arguments describe, as `flux create helmrelease` builds it.
pub fn helm_release(args: &CreateHelmReleaseArgs) -> anyhow::Result<Value> {
    let mut spec = Map::new();
    match (&args.chart_ref, &args.chart) {
        (Some(chart_ref), _) => {
            let reference = object_ref(
                chart_ref,
                &["OCIRepository", "HelmChart"],
                None,
                "chart reference",
            )?;
            spec.insert("chartRef".into(), reference);
        }
        (None, Some(chart)) => {
            let source = args.source.as_deref().context("source is required")?;
            let source_ref = object_ref(
                source,
                &["HelmRepository", "GitRepository", "Bucket"],
                None,
                "helm chart source",
            )
            .with_context(|| format!("invalid argument \"{source}\" for \"--source\" flag"))?;
            let mut chart_spec = json!({
                "chart": chart,
                "reconcileStrategy": args.reconcile_strategy,
                "sourceRef": source_ref,
            });
            if let Some(version) = args.chart_version.as_deref().filter(|v| !v.is_empty()) {
                chart_spec["version"] = version.into();
            }
            spec.insert("chart".into(), json!({"spec": chart_spec}));
        }
        (None, None) => anyhow::bail!("chart or chart-ref is required"),
    }
    if !args.depends_on.is_empty() {
        spec.insert(
            "dependsOn".into(),
            args.depends_on.iter().map(|d| dependency(d)).collect(),
        );
    }
    if let Some(name) = args.release_name.as_deref().filter(|s| !s.is_empty()) {
        spec.insert("releaseName".into(), name.into());
    }
    if let Some(ns) = args.target_namespace.as_deref().filter(|s| !s.is_empty()) {
        spec.insert("targetNamespace".into(), ns.into());
    }
    // Flux keeps the release storage with the release unless told otherwise.
    if let Some(ns) = args
        .storage_namespace
        .as_deref()
        .or(args.target_namespace.as_deref())
        .filter(|s| !s.is_empty())
    {
        spec.insert("storageNamespace".into(), ns.into());
    }
    if let Some(sa) = args.service_account.as_deref().filter(|s| !s.is_empty()) {
        spec.insert("serviceAccountName".into(), sa.into());
    }
    let mut install = Map::new();
    if args.create_target_namespace {
        install.insert("createNamespace".into(), true.into());
    }
    if let Some(policy) = &args.crds {
        anyhow::ensure!(
            ["Skip", "Create", "CreateReplace"].contains(&policy.as_str()),
            "invalid argument \"{policy}\" for \"--crds\" flag: unsupported CRD policy '{policy}', must be one of: Skip, Create, CreateReplace"
        );
        install.insert("crds".into(), "Create".into());
        spec.insert("upgrade".into(), json!({"crds": policy}));
    }
    if !install.is_empty() {
        spec.insert("install".into(), Value::Object(install));
    }
    if !args.values.is_empty() {
        let mut values = json!({});
        for file in &args.values {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading values from {} failed", file.display()))?;
            // Read as Flux (sigs.k8s.io/yaml) reads it: YAML 1.1, so `yes` is a boolean.
            let documents = keelson_helm::yaml::parse_all(&text).with_context(|| {
                format!("converting values from {} to JSON failed", file.display())
            })?;
            for document in documents {
                merge(&mut values, keelson_helm::json::to_serde(&document));
            }
        }
        spec.insert("values".into(), values);
    }
    if !args.values_from.is_empty() {
        let mut sources = Vec::new();
        for item in &args.values_from {
            let (kind, name) = item
                .split_once('/')
                .filter(|(kind, name)| ["Secret", "ConfigMap"].contains(kind) && !name.is_empty())
                .with_context(|| {
                    format!("invalid argument \"{item}\" for \"--values-from\" flag: must be Secret/<name> or ConfigMap/<name>")
                })?;
            sources.push(json!({"kind": kind, "name": name}));
        }
        spec.insert("valuesFrom".into(), sources.into());
    }
    if let Some(secret) = &args.kubeconfig_secret_ref {
        spec.insert("kubeConfig".into(), json!({"secretRef": {"name": secret}}));
    }
    object(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        &args.name,
        &args.common,
        spec,
    )
}

/// The HelmRepository these arguments describe, as `flux create source helm` builds it.
pub fn helm_repository(args: &CreateSourceHelmArgs) -> anyhow::Result<Value> {
    let scheme = args.url.split_once("://").map_or("", |(s, _)| s);
    anyhow::ensure!(
        matches!(scheme, "http" | "https" | "oci"),
        "url scheme '{scheme}' not supported, can be: http, https and oci"
    );
    let mut spec = Map::new();
    spec.insert("url".into(), args.url.clone().into());
    if scheme == "oci" {
        spec.insert("type".into(), "oci".into());
        if let Some(provider) = args.oci_provider.as_deref().filter(|p| !p.is_empty()) {
            spec.insert("provider".into(), provider.into());
        }
    }
    if let Some(secret) = args.secret_ref.as_deref().filter(|s| !s.is_empty()) {
        spec.insert("secretRef".into(), json!({"name": secret}));
    }
    if args.pass_credentials {
        spec.insert("passCredentials".into(), true.into());
    }
    object(
        "source.toolkit.fluxcd.io/v1",
        "HelmRepository",
        &args.name,
        &args.common,
        spec,
    )
}

/// The OCIRepository these arguments describe, as `flux create source oci` builds it.
pub fn oci_repository(args: &CreateSourceOciArgs) -> anyhow::Result<Value> {
    let set = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let (tag, semver, digest) = (set(&args.tag), set(&args.tag_semver), set(&args.digest));
    anyhow::ensure!(
        tag.is_some() || semver.is_some() || digest.is_some(),
        "--tag, --tag-semver or --digest is required"
    );
    let mut reference = Map::new();
    for (key, value) in [("tag", tag), ("semver", semver), ("digest", digest)] {
        if let Some(value) = value {
            reference.insert(key.into(), value.into());
        }
    }
    let mut spec = Map::new();
    spec.insert("url".into(), args.url.clone().into());
    spec.insert("provider".into(), args.provider.clone().into());
    spec.insert("ref".into(), Value::Object(reference));
    if let Some(secret) = args.secret_ref.as_deref().filter(|s| !s.is_empty()) {
        spec.insert("secretRef".into(), json!({"name": secret}));
    }
    if !args.ignore_paths.is_empty() {
        spec.insert("ignore".into(), args.ignore_paths.join("\n").into());
    }
    if args.insecure {
        spec.insert("insecure".into(), true.into());
    }
    object(
        "source.toolkit.fluxcd.io/v1",
        "OCIRepository",
        &args.name,
        &args.common,
        spec,
    )
}

/// Prints `object` (`--export`) or applies it and waits until it is Ready.
pub fn export_or_apply(
    kind: FluxKind,
    object: Value,
    common: &CreateCommon,
) -> anyhow::Result<Exit> {
    if common.export {
        output::print(&export_yaml(&object)?)?;
        return Ok(Exit::Success);
    }
    super::runtime::block_on(apply_and_wait(kind, object, common))
}

/// Applies `object` and waits until the controller reports it Ready, printing Flux's progress
/// lines: sources are "`<Kind>` source"s that report the fetched revision (and fail without an
/// artifact, as `flux create source` does — a `type: oci` HelmRepository has none); the others
/// report "`<Kind>` `<name>` is ready" and the applied revision.
pub(super) async fn apply_and_wait(
    kind: FluxKind,
    object: Value,
    common: &CreateCommon,
) -> anyhow::Result<Exit> {
    let cluster = &common.cluster;
    let ns = &cluster.namespace;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let source = kind.resource.group == "source.toolkit.fluxcd.io";
    let noun = if source {
        format!("{} source", kind.kind)
    } else {
        kind.kind.to_string()
    };
    let client = cluster.client().await?;
    let api = kind.api(&client, ns);
    progress('✚', &format!("generating {noun}"));
    progress('►', &format!("applying {noun}"));
    let existed = api
        .get_opt(&name)
        .await
        .with_context(|| format!("failed to read {} {ns}/{name}", kind.kind))?
        .is_some();
    let applied: DynamicObject = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .with_context(|| format!("failed to apply {} {ns}/{name}", kind.kind))?;
    let verb = if existed { "updated" } else { "created" };
    progress('✔', &format!("{noun} {verb}"));
    progress('◎', &format!("waiting for {noun} reconciliation"));
    let generation = applied.metadata.generation;
    let deadline = Instant::now() + common.timeout.as_std();
    loop {
        let current = api
            .get(&name)
            .await
            .with_context(|| format!("failed to read {} {ns}/{name}", kind.kind))?;
        let value = serde_json::to_value(&current).unwrap_or(Value::Null);
        let ready = super::kinds::condition(&value, "Ready")
            .filter(|c| c["observedGeneration"].as_i64() >= generation);
        match ready.and_then(|c| c["status"].as_str()) {
            Some("True") => {
                let revision = (kind.revision)(&value);
                if source {
                    progress('✔', &format!("{noun} reconciliation completed"));
                    if !revision.is_empty() {
                        progress('✔', &format!("fetched revision: {revision}"));
                    } else if object["spec"]["type"] != "oci" {
                        progress(
                            '✗',
                            &format!("{noun} reconciliation completed but no artifact was found"),
                        );
                        return Ok(Exit::Failure);
                    }
                } else {
                    progress('✔', &format!("{} {name} is ready", kind.kind));
                    if !revision.is_empty() {
                        progress('✔', &format!("applied revision {revision}"));
                    }
                }
                return Ok(Exit::Success);
            }
            Some("False") => {
                let message = ready
                    .and_then(|c| c["message"].as_str())
                    .unwrap_or_default();
                progress('✗', message);
                return Ok(Exit::Failure);
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            progress(
                '✗',
                &format!(
                    "timed out after {} waiting for {} {ns}/{name} to become Ready (is `keelson controller` running?)",
                    common.timeout, kind.kind
                ),
            );
            return Ok(Exit::Failure);
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}
