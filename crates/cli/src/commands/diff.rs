//! `keelson build kustomization NAME --path DIR` and `keelson diff kustomization NAME --path DIR`:
//! render a local tree with a live Kustomization's settings exactly as the controller would, then
//! print it, or compare it with the cluster through a server-side dry-run.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use keelson_api::Kustomization;
use keelson_manifest::ObjectId;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde_json::{Value, json};

use super::cluster::ClusterArgs;
use super::runtime::block_on;
use crate::Exit;

/// Which Kustomization and which local tree.
#[derive(Debug, Clone, clap::Args)]
pub struct KsPathArgs {
    /// The Kustomization's name.
    pub name: String,
    /// The local directory that stands for the Kustomization's `spec.path`.
    #[arg(long)]
    pub path: PathBuf,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Arguments of `keelson diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// What to compare.
    #[command(subcommand)]
    pub target: DiffTarget,
}

/// Kinds `build` renders from a live object's settings.
#[derive(Debug, clap::Subcommand)]
pub enum BuildTarget {
    /// A Kustomization's local tree, rendered as the controller would.
    #[command(alias = "ks")]
    Kustomization(KsPathArgs),
}

/// Kinds `diff` compares.
#[derive(Debug, clap::Subcommand)]
pub enum DiffTarget {
    /// A Kustomization against a local tree.
    #[command(alias = "ks")]
    Kustomization(KsPathArgs),
}

/// The Git work tree around `path`, if any (`path` is absolute and symlink-free).
pub(crate) fn git_work_tree(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// The directory that holds the tree: the Git work tree around `path` (so `../base` references
/// resolve), or `path` itself.
fn tree_root(path: &Path) -> PathBuf {
    git_work_tree(path).unwrap_or_else(|| path.to_path_buf())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("failed to create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("failed to read {}", from.display()))?
    {
        let entry = entry.with_context(|| format!("failed to read {}", from.display()))?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        let kind = entry
            .file_type()
            .with_context(|| format!("failed to stat {}", source.display()))?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target)
                .with_context(|| format!("failed to copy {}", source.display()))?;
        }
    }
    Ok(())
}

/// Renders `args.path` with the live Kustomization's settings; returns it and its objects (owner
/// labels included, as applied).
pub async fn render(
    client: &Client,
    args: &KsPathArgs,
) -> anyhow::Result<(Kustomization, Vec<Value>)> {
    let api: Api<Kustomization> = Api::namespaced(client.clone(), &args.cluster.namespace);
    let ks = api
        .get_opt(&args.name)
        .await
        .with_context(|| {
            format!(
                "failed to read Kustomization {}/{}",
                args.cluster.namespace, args.name
            )
        })?
        .with_context(|| {
            format!(
                "Kustomization {}/{} not found",
                args.cluster.namespace, args.name
            )
        })?;
    let path = std::fs::canonicalize(&args.path)
        .with_context(|| format!("{} does not exist", args.path.display()))?;
    let root = tree_root(&path);
    let scratch = tempfile::tempdir().context("failed to create a scratch directory")?;
    copy_tree(&root, scratch.path())?;
    let rel = path.strip_prefix(&root).unwrap_or(Path::new(""));
    let dir = scratch.path().join(rel);
    let mut objects = keelson_controller::render::render(client, &ks, scratch.path(), &dir)
        .await
        .map_err(|e| {
            let text = format!("{:#}", anyhow::Error::new(e));
            anyhow::anyhow!(text.replace(&format!("{}/", scratch.path().display()), ""))
        })?;
    let owner = keelson_controller::render::owner_labels(&ks);
    for object in &mut objects {
        if !object["metadata"]["labels"].is_object() {
            object["metadata"]["labels"] = json!({});
        }
        for (k, v) in &owner {
            object["metadata"]["labels"][k] = json!(v);
        }
    }
    Ok((ks, objects))
}

/// `keelson build kustomization`.
pub fn build(args: &KsPathArgs) -> anyhow::Result<Exit> {
    block_on(async {
        let client = args.cluster.client().await?;
        let (_, objects) = render(&client, args).await?;
        print!("{}", keelson_manifest::to_yaml_stream(&objects));
        Ok(Exit::Success)
    })
}

/// The object as compared: no status, no server bookkeeping.
fn normalize(object: &Value) -> Value {
    let mut value = object.clone();
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = value["metadata"].as_object_mut() {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "uid",
        ] {
            meta.remove(key);
        }
    }
    value
}

/// A unified-style line diff (`-` live, `+` desired), only changed lines with one line of
/// context.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence table.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let changed: Vec<bool> = ops.iter().map(|(op, _)| *op != ' ').collect();
    let mut out = String::new();
    for (k, (op, line)) in ops.iter().enumerate() {
        let near =
            changed[k] || (k > 0 && changed[k - 1]) || changed.get(k + 1).copied().unwrap_or(false);
        if near {
            out.push_str(&format!("{op} {line}\n"));
        }
    }
    out
}

async fn api_for(
    client: &Client,
    id: &ObjectId,
    default_ns: &str,
) -> anyhow::Result<Api<DynamicObject>> {
    let gvk = GroupVersionKind::gvk(&id.group, &id.version, &id.kind);
    let (resource, caps): (ApiResource, _) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("the cluster does not serve {}", id.api_version()))?;
    Ok(match caps.scope {
        Scope::Cluster => Api::all_with(client.clone(), &resource),
        Scope::Namespaced => {
            let ns = if id.namespace.is_empty() {
                default_ns
            } else {
                &id.namespace
            };
            Api::namespaced_with(client.clone(), ns, &resource)
        }
    })
}

/// `keelson diff kustomization`: exit 0 when the cluster matches, 1 when it differs.
pub fn diff(args: &DiffArgs) -> anyhow::Result<Exit> {
    let DiffTarget::Kustomization(args) = &args.target;
    block_on(async {
        let client = args.cluster.client().await?;
        let (ks, objects) = render(&client, args).await?;
        let params = PatchParams::apply(keelson_api::kustomization::FIELD_MANAGER)
            .force()
            .dry_run();
        let mut differs = false;
        let mut desired_ids = Vec::new();
        for object in &objects {
            let id = ObjectId::of(object);
            desired_ids.push(id.inventory_id());
            let api = api_for(&client, &id, "default").await?;
            let live = api
                .get_opt(&id.name)
                .await
                .with_context(|| format!("failed to read {id}"))?;
            let dry = api
                .patch(&id.name, &params, &Patch::Apply(object))
                .await
                .with_context(|| format!("server-side dry-run of {id} failed"))?;
            let Some(live) = live else {
                println!("► {id} created");
                differs = true;
                continue;
            };
            let live = normalize(&serde_json::to_value(&live).unwrap_or(Value::Null));
            let dry = normalize(&serde_json::to_value(&dry).unwrap_or(Value::Null));
            if live != dry {
                println!("► {id} drifted");
                print!(
                    "{}",
                    line_diff(
                        &keelson_manifest::to_yaml(&live),
                        &keelson_manifest::to_yaml(&dry)
                    )
                );
                differs = true;
            }
        }
        if ks.spec.prune {
            let inventory = ks.status.as_ref().and_then(|s| s.inventory.as_ref());
            for entry in inventory.map(|i| i.entries.as_slice()).unwrap_or_default() {
                if !desired_ids.contains(&entry.id)
                    && let Some(id) = ObjectId::from_inventory_id(&entry.id)
                {
                    println!("► {id} deleted");
                    differs = true;
                }
            }
        }
        Ok(if differs {
            Exit::Failure
        } else {
            Exit::Success
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_changed_lines_with_context() {
        let old = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n";
        let new = "a: 1\nb: 2\nc: 30\nd: 4\ne: 5\n";
        assert_eq!(line_diff(old, new), "  b: 2\n- c: 3\n+ c: 30\n  d: 4\n");
        assert_eq!(line_diff(old, old), "");
    }
}
