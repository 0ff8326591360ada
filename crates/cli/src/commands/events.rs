//! `keelson events`: the Kubernetes Events of keelson's objects, oldest first.

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};

use super::cluster::ClusterArgs;
use super::runtime::block_on;
use crate::Exit;

/// The kinds whose events are shown.
pub const KINDS: &[&str] = &[
    "GitRepository",
    "OCIRepository",
    "HelmRepository",
    "HelmChart",
    "Bucket",
    "Kustomization",
    "HelmRelease",
];

/// Arguments of `keelson events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Only events of this object: Kind/name (`Kustomization/apps`).
    #[arg(long = "for")]
    pub for_object: Option<String>,
    /// Events of every namespace.
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// One event, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// When it was last seen (RFC 3339).
    pub time: String,
    /// Normal or Warning.
    pub type_: String,
    /// The reason.
    pub reason: String,
    /// `Kind/name` (with the namespace under -A).
    pub object: String,
    /// The message.
    pub message: String,
}

fn time_of(event: &Event) -> String {
    event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0.to_string()))
        .or_else(|| event.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0.to_string()))
        .or_else(|| {
            event
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
        })
        .unwrap_or_default()
}

/// The matching events, oldest first.
pub fn rows(events: Vec<Event>, for_object: Option<&str>, with_namespace: bool) -> Vec<Row> {
    let mut rows: Vec<Row> = events
        .into_iter()
        .filter(|e| {
            let kind = e.involved_object.kind.as_deref().unwrap_or_default();
            let name = e.involved_object.name.as_deref().unwrap_or_default();
            KINDS.contains(&kind)
                && for_object.is_none_or(|f| f.eq_ignore_ascii_case(&format!("{kind}/{name}")))
        })
        .map(|e| {
            let kind = e.involved_object.kind.clone().unwrap_or_default();
            let name = e.involved_object.name.clone().unwrap_or_default();
            let ns = e.involved_object.namespace.clone().unwrap_or_default();
            Row {
                time: time_of(&e),
                type_: e.type_.clone().unwrap_or_default(),
                reason: e.reason.clone().unwrap_or_default(),
                object: if with_namespace {
                    format!("{kind}/{ns}/{name}")
                } else {
                    format!("{kind}/{name}")
                },
                message: e.message.clone().unwrap_or_default().replace('\n', "; "),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.time.cmp(&b.time));
    rows
}

/// Prints the events as a table.
pub fn run(args: &EventsArgs) -> anyhow::Result<Exit> {
    block_on(async {
        let client = args.cluster.client().await?;
        let api: Api<Event> = if args.all_namespaces {
            Api::all(client)
        } else {
            Api::namespaced(client, &args.cluster.namespace)
        };
        let events = api
            .list(&ListParams::default())
            .await
            .context("failed to list events")?
            .items;
        let rows = rows(events, args.for_object.as_deref(), args.all_namespaces);
        let mut table =
            super::output::Table::new(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
        for r in rows {
            table.push([r.time, r.type_, r.reason, r.object, r.message]);
        }
        print!("{}", table.render());
        Ok(Exit::Success)
    })
}
