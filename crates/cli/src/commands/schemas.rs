//! `keelson schemas`: generates the built-in schema bundle `keelson validate` uses, from a live
//! apiserver's `/openapi/v3` (the kubeconfig's cluster) or from a folder of the same documents
//! (`api/openapi-spec/v3` of the Kubernetes source tree), and optionally writes the schemas as
//! standalone files for kubeconform.

use std::path::PathBuf;

use anyhow::Context;
use keelson_validate::schema::Bundle;
use serde_json::Value;

use crate::Exit;

/// Arguments of `keelson schemas`.
#[derive(Debug, clap::Args)]
pub struct SchemasArgs {
    /// Where to write the gzip-compressed bundle.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Read the OpenAPI v3 documents from this folder (`*_openapi.json`) instead of the cluster.
    #[arg(long)]
    pub from_dir: Option<PathBuf>,
    /// The Kubernetes version to record (read from the cluster's /version when live).
    #[arg(long)]
    pub kubernetes_version: Option<String>,
    /// Also write kubeconform-style standalone schemas under this folder
    /// (`{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`).
    #[arg(long)]
    pub kubeconform_dir: Option<PathBuf>,
    /// With --kubeconform-dir: refuse unknown fields (for `kubeconform -strict` comparisons).
    #[arg(long)]
    pub strict: bool,
    /// With --kubeconform-dir: also write the CRDs found in this repository.
    #[arg(long)]
    pub crds_from: Option<PathBuf>,
}

/// Fetches or reads the OpenAPI documents and writes the bundle.
pub fn run(args: &SchemasArgs) -> anyhow::Result<Exit> {
    let (version, documents) = match &args.from_dir {
        Some(dir) => (
            args.kubernetes_version.clone().unwrap_or_default(),
            read_dir(dir)?,
        ),
        None => {
            let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
            runtime.block_on(fetch(args.kubernetes_version.clone()))?
        }
    };
    let bundle = Bundle::from_openapi(&version, &documents);
    if let Some(out) = &args.output {
        let bytes = bundle.to_gzip().context("failed to compress the bundle")?;
        std::fs::write(out, bytes).with_context(|| format!("failed to write {}", out.display()))?;
        eprintln!(
            "wrote {} ({} kinds, {} definitions, Kubernetes {})",
            out.display(),
            bundle.kinds.len(),
            bundle.definitions.len(),
            bundle.kubernetes_version
        );
    }
    if let Some(dir) = &args.kubeconform_dir {
        let crds: Vec<Value> = match &args.crds_from {
            Some(repo) => keelson_validate::repo::Repo::scan(repo)?
                .documents("apiextensions.k8s.io", "CustomResourceDefinition")
                .map(|(v, _)| v.clone())
                .collect(),
            None => Vec::new(),
        };
        let files = keelson_validate::schema::kubeconform_files(Some(&bundle), &crds, args.strict);
        for (rel, schema) in &files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("failed to create {}", parent.display()))?;
            }
            std::fs::write(&path, serde_json::to_vec(schema)?)
                .with_context(|| format!("failed to write {}", path.display()))?;
        }
        eprintln!("wrote {} schema files under {}", files.len(), dir.display());
    }
    Ok(Exit::Success)
}

fn read_dir(dir: &std::path::Path) -> anyhow::Result<Vec<Value>> {
    let mut docs = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("failed to read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_openapi.json"))
        .collect();
    entries.sort();
    for path in entries {
        let text =
            std::fs::read(&path).with_context(|| format!("failed to read {}", path.display()))?;
        docs.push(
            serde_json::from_slice(&text)
                .with_context(|| format!("failed to parse {}", path.display()))?,
        );
    }
    Ok(docs)
}

/// The cluster's version and the documents of every group-version in `/openapi/v3`.
async fn fetch(version: Option<String>) -> anyhow::Result<(String, Vec<Value>)> {
    let client = kube::Client::try_default()
        .await
        .context("failed to load the kubeconfig")?;
    let get = |path: String| {
        let client = client.clone();
        async move {
            let request = http::Request::get(&path)
                .body(Vec::new())
                .with_context(|| format!("failed to build a request for {path}"))?;
            let text = client
                .request_text(request)
                .await
                .with_context(|| format!("failed to GET {path}"))?;
            serde_json::from_str::<Value>(&text).with_context(|| format!("failed to parse {path}"))
        }
    };
    let version = match version {
        Some(v) => v,
        None => get("/version".into())
            .await?
            .get("gitVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    };
    let index = get("/openapi/v3".into()).await?;
    let mut docs = Vec::new();
    if let Some(paths) = index.get("paths").and_then(Value::as_object) {
        for (name, entry) in paths {
            // Group-version documents only (`api/v1`, `apis/apps/v1`), not the group lists.
            let gv =
                name == "api/v1" || (name.starts_with("apis/") && name.matches('/').count() == 2);
            if !gv {
                continue;
            }
            let url = entry
                .get("serverRelativeURL")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("/openapi/v3/{name}"));
            docs.push(get(url).await?);
        }
    }
    Ok((version, docs))
}
