//! Where a HelmRelease's chart archive comes from.
//!
//! [`ChartSource`] is the seam between the release side and the source side: given a
//! HelmRelease, produce the packaged chart (`.tgz` bytes) and its revision. [`ArtifactSource`]
//! is Flux's way: `spec.chartRef` names an `OCIRepository`, `HelmChart` or `ExternalArtifact`
//! whose `status.artifact` is in the controller's storage; `spec.chart` makes the controller
//! create the HelmChart `<namespace>-<name>` first. Tests plug in their own source.

use std::sync::Arc;

use futures::future::BoxFuture;
use keelson_api::HelmRelease;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::json;

use crate::context::Context;

/// A packaged chart ready to render.
#[derive(Debug, Clone)]
pub struct ChartArtifact {
    /// The `.tgz` archive.
    pub archive: Vec<u8>,
    /// The source's revision (for `status.lastAttemptedRevision`).
    pub revision: String,
    /// The archive's digest, when the source reports one.
    pub digest: Option<String>,
    /// Where it came from, for messages (`HelmChart/ns/name`).
    pub origin: String,
    /// `namespace/name` of the HelmChart created for `spec.chart`, if any.
    pub helm_chart: Option<String>,
}

/// Produces the chart of a HelmRelease; the error is a message for the `ArtifactFailed`
/// condition.
pub trait ChartSource: Send + Sync {
    /// The chart archive for `hr`.
    fn fetch<'a>(&'a self, hr: &'a HelmRelease) -> BoxFuture<'a, Result<ChartArtifact, String>>;
}

/// Reads chart artifacts of Flux source objects from the controller's artifact storage.
pub struct ArtifactSource {
    ctx: Arc<Context>,
}

impl ArtifactSource {
    /// A source reading through `ctx` (client and storage).
    pub fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }
}

fn source_resource(kind: &str) -> Option<ApiResource> {
    let plural = match kind {
        "HelmChart" => "helmcharts",
        "OCIRepository" => "ocirepositories",
        "ExternalArtifact" => "externalartifacts",
        _ => return None,
    };
    Some(ApiResource {
        group: "source.toolkit.fluxcd.io".into(),
        version: "v1".into(),
        api_version: "source.toolkit.fluxcd.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    })
}

impl ArtifactSource {
    async fn fetch_inner(&self, hr: &HelmRelease) -> Result<ChartArtifact, String> {
        let own_ns = hr.namespace().unwrap_or_default();
        let (kind, ns, name, helm_chart) = if let Some(r) = &hr.spec.chart_ref {
            let ns = r.namespace.clone().unwrap_or_else(|| own_ns.clone());
            (r.kind.clone(), ns, r.name.clone(), None)
        } else if let Some(template) = &hr.spec.chart {
            let ns = template
                .spec
                .source_ref
                .namespace
                .clone()
                .unwrap_or_else(|| own_ns.clone());
            let name = format!("{own_ns}-{}", hr.name_any());
            self.ensure_helm_chart(hr, &ns, &name).await?;
            (
                "HelmChart".to_string(),
                ns.clone(),
                name.clone(),
                Some(format!("{ns}/{name}")),
            )
        } else {
            return Err("either chart or chartRef must be set".into());
        };
        let resource = source_resource(&kind)
            .ok_or_else(|| format!("chartRef kind '{kind}' is not supported"))?;
        let api: Api<DynamicObject> = Api::namespaced_with(self.ctx.client.clone(), &ns, &resource);
        let object = api
            .get_opt(&name)
            .await
            .map_err(|e| format!("failed to get source {kind}/{ns}/{name}: {e}"))?
            .ok_or_else(|| format!("{kind} '{ns}/{name}' not found"))?;
        if let Some(why) = not_ready(&object) {
            return Err(format!("{kind} '{ns}/{name}' is not ready: {why}"));
        }
        let artifact = &object.data["status"]["artifact"];
        let path = artifact["path"]
            .as_str()
            .ok_or_else(|| format!("{kind} '{ns}/{name}' is not ready: no artifact"))?;
        let local = self.ctx.storage.local_path(path);
        let archive = tokio::fs::read(&local)
            .await
            .map_err(|e| format!("failed to read artifact of {kind} '{ns}/{name}': {e}"))?;
        Ok(ChartArtifact {
            archive,
            revision: artifact["revision"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            digest: artifact["digest"].as_str().map(str::to_string),
            origin: format!("{kind}/{ns}/{name}"),
            helm_chart,
        })
    }

    /// Creates or updates the HelmChart of `spec.chart`, as helm-controller does.
    async fn ensure_helm_chart(
        &self,
        hr: &HelmRelease,
        ns: &str,
        name: &str,
    ) -> Result<(), String> {
        let Some(template) = &hr.spec.chart else {
            return Ok(());
        };
        let Some(resource) = source_resource("HelmChart") else {
            return Ok(());
        };
        let spec = &template.spec;
        let mut chart_spec = json!({
            "chart": spec.chart,
            "version": spec.version.clone().unwrap_or_else(|| "*".into()),
            "sourceRef": {"kind": spec.source_ref.kind, "name": spec.source_ref.name},
            "interval": spec.interval.as_ref().unwrap_or(&hr.spec.interval).to_string(),
            "reconcileStrategy": spec.reconcile_strategy.clone().unwrap_or_else(|| "ChartVersion".into()),
        });
        if !spec.values_files.is_empty() {
            chart_spec["valuesFiles"] = json!(spec.values_files);
        }
        if let Some(ignore) = spec.ignore_missing_values_files {
            chart_spec["ignoreMissingValuesFiles"] = json!(ignore);
        }
        let mut object = json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmChart",
            "metadata": {"name": name, "namespace": ns, "labels": {
                keelson_api::helmrelease::OWNER_NAME_LABEL: hr.name_any(),
                keelson_api::helmrelease::OWNER_NAMESPACE_LABEL: hr.namespace().unwrap_or_default(),
            }},
            "spec": chart_spec,
        });
        if let Some(meta) = &template.metadata {
            for (k, v) in &meta.labels {
                object["metadata"]["labels"][k] = json!(v);
            }
            if !meta.annotations.is_empty() {
                object["metadata"]["annotations"] = json!(meta.annotations);
            }
        }
        let api: Api<DynamicObject> = Api::namespaced_with(self.ctx.client.clone(), ns, &resource);
        let params = PatchParams::apply(keelson_api::helmrelease::FIELD_MANAGER).force();
        api.patch(name, &params, &Patch::Apply(&object))
            .await
            .map_err(|e| format!("failed to create HelmChart '{ns}/{name}': {e}"))?;
        Ok(())
    }
}

/// Why a source object cannot be used yet, as helm-controller says it: its spec is not yet
/// reconciled, or its Ready condition is False (then its message).
fn not_ready(object: &DynamicObject) -> Option<String> {
    let status = &object.data["status"];
    let generation = object.metadata.generation;
    let observed = status["observedGeneration"].as_i64();
    let ready = status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
    match ready {
        Some(c) if c["status"] == "False" => Some(
            c["message"]
                .as_str()
                .unwrap_or("Ready is False")
                .to_string(),
        ),
        Some(c) if c["status"] == "True" && generation.is_some() && observed != generation => {
            Some("reconciliation in progress".into())
        }
        None if status["artifact"].is_null() => Some("no artifact".into()),
        _ => None,
    }
}

impl ChartSource for ArtifactSource {
    fn fetch<'a>(&'a self, hr: &'a HelmRelease) -> BoxFuture<'a, Result<ChartArtifact, String>> {
        Box::pin(self.fetch_inner(hr))
    }
}
