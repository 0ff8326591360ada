//! `keelson tree kustomization NAME`: what a Kustomization applied (its inventory), as a tree;
//! Kustomizations it applied are expanded in turn.

use anyhow::Context as _;
use keelson_api::Kustomization;
use keelson_manifest::ObjectId;
use kube::Client;
use kube::api::Api;

use super::cluster::ClusterArgs;
use super::runtime::block_on;
use crate::Exit;

/// Arguments of `keelson tree`.
#[derive(Debug, clap::Args)]
pub struct TreeArgs {
    /// What to show.
    #[command(subcommand)]
    pub target: TreeTarget,
}

/// Kinds `tree` shows.
#[derive(Debug, clap::Subcommand)]
pub enum TreeTarget {
    /// A Kustomization's inventory.
    #[command(alias = "ks")]
    Kustomization {
        /// Its name.
        name: String,
        /// The cluster and namespace.
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The object, `Kind/namespace/name` or `Kind/name`.
    pub label: String,
    /// What it applied, if it is a Kustomization.
    pub children: Vec<Node>,
}

fn label(id: &ObjectId) -> String {
    if id.namespace.is_empty() {
        format!("{}/{}", id.kind, id.name)
    } else {
        format!("{}/{}/{}", id.kind, id.namespace, id.name)
    }
}

/// Builds the tree under Kustomization `ns/name`.
pub async fn build(client: &Client, ns: &str, name: &str) -> anyhow::Result<Node> {
    let mut seen = Vec::new();
    Box::pin(node(client, ns, name, &mut seen)).await
}

async fn node(
    client: &Client,
    ns: &str,
    name: &str,
    seen: &mut Vec<(String, String)>,
) -> anyhow::Result<Node> {
    seen.push((ns.to_string(), name.to_string()));
    let api: Api<Kustomization> = Api::namespaced(client.clone(), ns);
    let ks = api
        .get_opt(name)
        .await
        .with_context(|| format!("failed to read Kustomization {ns}/{name}"))?
        .with_context(|| format!("Kustomization {ns}/{name} not found"))?;
    let mut children = Vec::new();
    let entries = ks
        .status
        .and_then(|s| s.inventory)
        .map(|i| i.entries)
        .unwrap_or_default();
    for entry in entries {
        let Some(id) = ObjectId::from_inventory_id(&entry.id) else {
            continue;
        };
        let nested = id.group == keelson_api::kustomization::GROUP
            && id.kind == "Kustomization"
            && !seen.contains(&(id.namespace.clone(), id.name.clone()));
        if nested {
            match Box::pin(node(client, &id.namespace, &id.name, seen)).await {
                Ok(child) => children.push(child),
                Err(_) => children.push(Node {
                    label: label(&id),
                    children: Vec::new(),
                }),
            }
        } else {
            children.push(Node {
                label: label(&id),
                children: Vec::new(),
            });
        }
    }
    Ok(Node {
        label: format!("Kustomization/{ns}/{name}"),
        children,
    })
}

/// The tree as text, with box-drawing branches.
pub fn render(root: &Node) -> String {
    let mut out = format!("{}\n", root.label);
    render_children(&root.children, "", &mut out);
    out
}

fn render_children(children: &[Node], prefix: &str, out: &mut String) {
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        out.push_str(prefix);
        out.push_str(if last { "└── " } else { "├── " });
        out.push_str(&child.label);
        out.push('\n');
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        render_children(&child.children, &deeper, out);
    }
}

/// Prints the tree.
pub fn run(args: &TreeArgs) -> anyhow::Result<Exit> {
    let TreeTarget::Kustomization { name, cluster } = &args.target;
    block_on(async {
        let client = cluster.client().await?;
        let root = build(&client, &cluster.namespace, name).await?;
        print!("{}", render(&root));
        Ok(Exit::Success)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_branches() {
        let leaf = |l: &str| Node {
            label: l.into(),
            children: vec![],
        };
        let root = Node {
            label: "Kustomization/ns/root".into(),
            children: vec![
                Node {
                    label: "Kustomization/ns/apps".into(),
                    children: vec![leaf("Deployment/ns/web"), leaf("Service/ns/web")],
                },
                leaf("Namespace/ns"),
            ],
        };
        assert_eq!(
            render(&root),
            "Kustomization/ns/root\n├── Kustomization/ns/apps\n│   ├── Deployment/ns/web\n│   └── Service/ns/web\n└── Namespace/ns\n"
        );
    }
}
