//! `keelson get …`: lists Flux objects as `flux get` does — a table with NAME, REVISION,
//! SUSPENDED, READY and MESSAGE (NAMESPACE first with `-A`) — or as YAML/JSON with `-o`.
//!
//! Each listed kind is a [`FluxKind`]: its API resource and how to read its revision. Listing,
//! status columns and printing are generic, so another kind is one more [`FluxKind`] and one
//! more subcommand variant.
//!
//! Exit status: 0 when the listing worked (also when nothing matched: a note goes to stderr),
//! 1 when a named object does not exist or the cluster cannot be asked, 2 for usage errors.

use anyhow::Context as _;
use clap::Subcommand;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::cluster::ClusterArgs;
use super::output::{self, OutputFormat, Table};
use crate::Exit;

/// Arguments of `keelson get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// What to list.
    #[command(subcommand)]
    pub what: GetWhat,
}

/// The kinds `keelson get` lists.
#[derive(Debug, Subcommand)]
pub enum GetWhat {
    /// Sources.
    #[command(subcommand)]
    Sources(GetSources),
    /// Kustomization objects.
    #[command(visible_alias = "ks", alias = "kustomization")]
    Kustomizations(ListArgs),
    /// HelmRelease objects.
    #[command(visible_alias = "hr", alias = "helmrelease")]
    Helmreleases(ListArgs),
    /// Every kind above, one table per kind (names as `kind/name`).
    All(AllArgs),
}

/// Arguments of `keelson get all`.
#[derive(Debug, Clone, clap::Args)]
pub struct AllArgs {
    /// List the objects of all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Cluster and namespace.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// The source kinds `keelson get sources` lists.
#[derive(Debug, Subcommand)]
pub enum GetSources {
    /// GitRepository sources.
    Git(ListArgs),
    /// OCIRepository sources.
    Oci(ListArgs),
    /// HelmRepository sources.
    Helm(ListArgs),
    /// HelmChart sources.
    Chart(ListArgs),
    /// Every source kind, one table per kind.
    All(AllArgs),
}

/// Which objects to list and how to print them.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// List only the object with this name.
    pub name: Option<String>,
    /// List the objects of all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Cluster and namespace.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub use super::kinds::{FluxKind, text_at};

/// The READY and MESSAGE columns: the Ready condition's status and message, or Flux's
/// `False` / `waiting to be reconciled` when there is no Ready condition yet.
pub fn ready_and_message(object: &Value) -> (String, String) {
    match super::kinds::condition(object, "Ready") {
        Some(c) => (text_at(c, &["status"]), text_at(c, &["message"])),
        None => ("False".into(), "waiting to be reconciled".into()),
    }
}

/// SUSPENDED: `True` when `spec.suspend` is true, `False` otherwise.
pub fn suspended(object: &Value) -> String {
    let suspended = object
        .pointer("/spec/suspend")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if suspended { "True" } else { "False" }.to_string()
}

/// The status table of `objects` of `kind`, with a NAMESPACE column when `all_namespaces`.
pub fn status_table(kind: &FluxKind, objects: &[Value], all_namespaces: bool) -> Table {
    let mut headers = vec!["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"];
    if all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let mut table = Table::new(headers);
    for object in objects {
        let (ready, message) = ready_and_message(object);
        let mut row = vec![
            text_at(object, &["metadata", "name"]),
            (kind.revision)(object),
            suspended(object),
            ready,
            message,
        ];
        if all_namespaces {
            row.insert(0, text_at(object, &["metadata", "namespace"]));
        }
        table.push(row);
    }
    table
}

/// Why listing found nothing to print.
#[derive(Debug)]
pub enum Listed {
    /// The objects, sorted by namespace and name.
    Objects(Vec<Value>),
    /// The named object does not exist.
    NotFound,
}

/// Reads the objects of `kind` that `args` select.
pub async fn list_objects(
    client: kube::Client,
    kind: &FluxKind,
    args: &ListArgs,
) -> anyhow::Result<Listed> {
    let api: Api<DynamicObject> = if args.all_namespaces {
        Api::all_with(client, &kind.resource)
    } else {
        Api::namespaced_with(client, &args.cluster.namespace, &kind.resource)
    };
    let hint = |err: kube::Error| -> anyhow::Error {
        let missing = matches!(&err, kube::Error::Api(status) if status.code == 404);
        let err = anyhow::Error::new(err);
        if missing && args.name.is_none() {
            err.context(format!(
                "failed to list {} objects: is the CRD installed? (keelson crds | kubectl apply -f -)",
                kind.kind
            ))
        } else {
            err.context(format!("failed to read {} objects", kind.kind))
        }
    };
    let objects = match &args.name {
        Some(name) if !args.all_namespaces => match api.get_opt(name).await.map_err(hint)? {
            Some(object) => vec![object],
            None => return Ok(Listed::NotFound),
        },
        name => {
            let mut items = api.list(&ListParams::default()).await.map_err(hint)?.items;
            if let Some(name) = name {
                items.retain(|o| o.metadata.name.as_deref() == Some(name.as_str()));
                if items.is_empty() {
                    return Ok(Listed::NotFound);
                }
            }
            items
        }
    };
    let mut values = Vec::with_capacity(objects.len());
    for object in objects {
        let mut value = serde_json::to_value(&object).context("failed to serialise an object")?;
        // A list response leaves out the kind of its items; put it back.
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "apiVersion".into(),
                kind.resource.api_version.clone().into(),
            );
            map.insert("kind".into(), kind.kind.into());
        }
        values.push(value);
    }
    values.sort_by_cached_key(|v| {
        (
            text_at(v, &["metadata", "namespace"]),
            text_at(v, &["metadata", "name"]),
        )
    });
    Ok(Listed::Objects(values))
}

/// Lists `kind` as `args` ask and prints the result; returns the exit status.
pub async fn get(kind: &FluxKind, args: &ListArgs) -> anyhow::Result<Exit> {
    let client = args.cluster.client().await?;
    let where_ = if args.all_namespaces {
        "any namespace".to_string()
    } else {
        format!("{} namespace", args.cluster.namespace)
    };
    match list_objects(client, kind, args).await? {
        Listed::NotFound => {
            let name = args.name.as_deref().unwrap_or_default();
            eprintln!("✗ {} object '{name}' not found in {where_}", kind.kind);
            Ok(Exit::Failure)
        }
        Listed::Objects(objects) => {
            match args.output {
                OutputFormat::Table if objects.is_empty() => {
                    eprintln!("no {} objects found in {where_}", kind.kind);
                }
                OutputFormat::Table => {
                    output::print(&status_table(kind, &objects, args.all_namespaces).render())?;
                }
                format => output::print_objects(format, objects, args.name.is_some())?,
            }
            Ok(Exit::Success)
        }
    }
}

/// `keelson get all` / `get sources all`: one table per kind of `kinds` that has objects,
/// names prefixed with the lower-case kind as `flux get all` prints them. A kind whose CRD is
/// not installed is skipped.
pub async fn get_all(args: &AllArgs, kinds: Vec<FluxKind>) -> anyhow::Result<Exit> {
    let client = args.cluster.client().await?;
    let list = ListArgs {
        name: None,
        all_namespaces: args.all_namespaces,
        output: OutputFormat::Table,
        cluster: args.cluster.clone(),
    };
    let mut tables = Vec::new();
    for kind in kinds {
        let objects = match list_objects(client.clone(), &kind, &list).await {
            Ok(Listed::Objects(objects)) => objects,
            Ok(Listed::NotFound) => Vec::new(),
            Err(err) if crd_missing(&err) => continue,
            Err(err) => return Err(err),
        };
        if objects.is_empty() {
            continue;
        }
        let prefixed: Vec<Value> = objects
            .into_iter()
            .map(|mut o| {
                let name = text_at(&o, &["metadata", "name"]);
                o["metadata"]["name"] = format!("{}/{name}", kind.kind.to_lowercase()).into();
                o
            })
            .collect();
        tables.push(status_table(&kind, &prefixed, args.all_namespaces).render());
    }
    if tables.is_empty() {
        let where_ = if args.all_namespaces {
            "any namespace".to_string()
        } else {
            format!("{} namespace", args.cluster.namespace)
        };
        eprintln!("no Flux objects found in {where_}");
    } else {
        output::print(&tables.join("\n"))?;
    }
    Ok(Exit::Success)
}

/// Whether listing failed because the kind's CRD is not installed (a 404 on the list).
fn crd_missing(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        matches!(
            e.downcast_ref::<kube::Error>(),
            Some(kube::Error::Api(status)) if status.code == 404
        )
    })
}

/// Runs `keelson get`.
pub fn run(args: &GetArgs) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        match &args.what {
            GetWhat::Sources(GetSources::Git(list)) => get(&FluxKind::git_repository(), list).await,
            GetWhat::Sources(GetSources::Oci(list)) => get(&FluxKind::oci_repository(), list).await,
            GetWhat::Sources(GetSources::Helm(list)) => {
                get(&FluxKind::helm_repository(), list).await
            }
            GetWhat::Sources(GetSources::Chart(list)) => get(&FluxKind::helm_chart(), list).await,
            GetWhat::Sources(GetSources::All(all)) => get_all(all, FluxKind::sources()).await,
            GetWhat::Kustomizations(list) => get(&FluxKind::kustomization(), list).await,
            GetWhat::Helmreleases(list) => get(&FluxKind::helm_release(), list).await,
            GetWhat::All(all) => get_all(all, FluxKind::all()).await,
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_columns_as_flux_prints_them() {
        let kind = FluxKind::git_repository();
        let ready = json!({"metadata": {"name": "podinfo", "namespace": "flux-system"},
            "spec": {"suspend": true},
            "status": {"artifact": {"revision": "main@sha1:abc"},
                       "conditions": [{"type": "Ready", "status": "True", "message": "stored artifact for revision 'main@sha1:abc'"}]}});
        let new = json!({"metadata": {"name": "new", "namespace": "apps"}, "spec": {}});
        assert_eq!(
            status_table(&kind, &[ready.clone(), new.clone()], false).render(),
            concat!(
                "NAME      REVISION        SUSPENDED   READY   MESSAGE\n",
                "podinfo   main@sha1:abc   True        True    stored artifact for revision 'main@sha1:abc'\n",
                "new                       False       False   waiting to be reconciled\n",
            )
        );
        let all = status_table(&kind, &[new], true).render();
        assert!(all.starts_with("NAMESPACE   NAME"), "{all}");
        assert!(all.contains("\napps        new"), "{all}");
    }
}
