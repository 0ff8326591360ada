//! `keelson logs`: the controller's log lines, filtered by the object they are about.
//!
//! The controller logs JSON lines (see [`crate::logging`]): every line logged while reconciling
//! an object carries its `controllerKind`, `name` and `namespace`. This command reads those
//! lines — from the controller pods' logs (the default) or from a file or stdin (`--log-file`,
//! for a controller run outside the cluster, as in keelson's tests) — keeps the ones about the
//! objects asked for, and prints them as `TIME LEVEL Kind/name.namespace - message key=value…`
//! or, with `-o json`, as the original lines.
//!
//! Unlike `flux logs`, `-n` is a filter on the objects' namespace and defaults to all of them;
//! the controller's own namespace is `--keelson-namespace`.
//!
//! Exit status: 0 when the log could be read (also when no line matched), 1 when it could not
//! (no controller pod, unreadable file), 2 for usage errors.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use futures::{AsyncBufReadExt as _, StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt as _;
use kube::api::{Api, ListParams, LogParams};
use serde_json::{Map, Value};
use tokio::io::AsyncBufReadExt as _;

use super::cluster::ClusterArgs;
use super::runtime::{block_on, parse_duration};
use crate::Exit;

/// Arguments of `keelson logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Only lines about objects of this kind (`Kustomization`, `gitrepository`, `hr`, …).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only lines about objects with this name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only lines about objects in this namespace (default: every namespace).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Lines about objects of every namespace (the default; for `flux logs` habits).
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Only lines of this level or more severe: debug, info or error.
    #[arg(long, value_enum)]
    pub level: Option<crate::logging::LogLevel>,
    /// Only lines newer than this (`30s`, `10m`, `1h`).
    #[arg(long, value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Only the last N matching lines (per controller pod).
    #[arg(long)]
    pub tail: Option<usize>,
    /// Keep printing new lines as they are written (until Ctrl-C).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Read the log from this file (`-`: stdin) instead of the controller pods.
    #[arg(long)]
    pub log_file: Option<PathBuf>,
    /// The namespace keelson's controller runs in.
    #[arg(long, alias = "flux-namespace", default_value = keelson_install::manifests::DEFAULT_NAMESPACE)]
    pub keelson_namespace: String,
    /// Output: text lines, or the original JSON lines.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: LogOutput,
    /// The kubeconfig to use; without it, $KUBECONFIG, ~/.kube/config or in-cluster settings.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of the current one.
    #[arg(long)]
    pub context: Option<String>,
}

/// How `keelson logs` prints lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogOutput {
    /// `TIME LEVEL Kind/name.namespace - message key=value…`
    #[default]
    Text,
    /// The controller's JSON lines, unchanged.
    Json,
}

/// Which lines to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The kind, canonical (`Kustomization`), compared case-insensitively.
    pub kind: Option<String>,
    /// The object's name.
    pub name: Option<String>,
    /// The object's namespace.
    pub namespace: Option<String>,
    /// The least severe level shown (0 debug … 3 error).
    pub min_severity: u8,
    /// Lines older than this are dropped.
    pub since: Option<Timestamp>,
}

/// The kind the user meant: Flux's short names and plurals map to the kind.
pub fn canonical_kind(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let known = [
        ("ks", "Kustomization"),
        ("hr", "HelmRelease"),
        ("kustomization", "Kustomization"),
        ("helmrelease", "HelmRelease"),
        ("gitrepository", "GitRepository"),
        ("gitrepositories", "GitRepository"),
        ("ocirepository", "OCIRepository"),
        ("ocirepositories", "OCIRepository"),
        ("helmrepository", "HelmRepository"),
        ("helmrepositories", "HelmRepository"),
        ("helmchart", "HelmChart"),
        ("bucket", "Bucket"),
    ];
    let singular = lower.strip_suffix('s').unwrap_or(&lower);
    known
        .iter()
        .find(|(alias, _)| *alias == lower || *alias == singular)
        .map_or_else(|| text.to_string(), |(_, kind)| (*kind).to_string())
}

fn severity(level: &str) -> u8 {
    match level {
        "trace" | "debug" => 0,
        "info" => 1,
        "warn" | "warning" => 2,
        _ => 3,
    }
}

impl Filter {
    /// Does any filter look at the object?
    fn about_objects(&self) -> bool {
        self.kind.is_some() || self.name.is_some() || self.namespace.is_some()
    }

    /// Keeps `line` (one parsed JSON object) or not.
    pub fn keeps(&self, line: &Map<String, Value>) -> bool {
        let text = |key: &str| line.get(key).and_then(Value::as_str);
        if severity(text("level").unwrap_or("info")) < self.min_severity {
            return false;
        }
        if let (Some(since), Some(ts)) = (self.since, text("ts"))
            && ts.parse::<Timestamp>().is_ok_and(|ts| ts < since)
        {
            return false;
        }
        if let Some(kind) = &self.kind
            && !text("controllerKind").is_some_and(|k| k.eq_ignore_ascii_case(kind))
        {
            return false;
        }
        if let Some(name) = &self.name
            && text("name") != Some(name.as_str())
        {
            return false;
        }
        if let Some(namespace) = &self.namespace
            && text("namespace") != Some(namespace.as_str())
        {
            return false;
        }
        true
    }

    /// Keeps a raw line: JSON lines by [`Filter::keeps`]; other lines (console-encoded logs,
    /// panics) only when nothing filters by object or level.
    pub fn keeps_raw(&self, raw: &str) -> Option<Option<Map<String, Value>>> {
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(map)) => self.keeps(&map).then_some(Some(map)),
            _ if raw.trim().is_empty() => None,
            _ => (!self.about_objects() && self.min_severity == 0 && self.since.is_none())
                .then_some(None),
        }
    }
}

/// Fields shown in the line's head or not worth repeating.
const HEAD_FIELDS: &[&str] = &[
    "level",
    "ts",
    "msg",
    "logger",
    "controllerKind",
    "name",
    "namespace",
    "reconcileID",
    "object.ref",
    "object.reason",
];

/// Formats one JSON log line for people.
pub fn format_line(line: &Map<String, Value>) -> String {
    let text = |key: &str| line.get(key).and_then(Value::as_str).unwrap_or_default();
    let object = match line.get("controllerKind").and_then(Value::as_str) {
        Some(kind) => format!("{kind}/{}.{}", text("name"), text("namespace")),
        None => "keelson".to_string(),
    };
    let mut out = format!(
        "{} {} {object} - {}",
        text("ts"),
        text("level"),
        text("msg")
    );
    for (key, value) in line {
        if HEAD_FIELDS.contains(&key.as_str()) {
            continue;
        }
        match value {
            Value::String(s) if !s.contains(char::is_whitespace) && !s.is_empty() => {
                out.push_str(&format!(" {key}={s}"));
            }
            other => out.push_str(&format!(" {key}={other}")),
        }
    }
    out
}

/// Prints lines that pass the filter, keeping the last `tail` when asked.
struct Printer {
    filter: Filter,
    output: LogOutput,
    tail: Option<VecDeque<String>>,
    limit: usize,
}

impl Printer {
    fn new(filter: Filter, output: LogOutput, tail: Option<usize>) -> Self {
        Self {
            filter,
            output,
            tail: tail.map(VecDeque::with_capacity),
            limit: tail.unwrap_or(0),
        }
    }

    fn offer(&mut self, raw: &str) {
        let raw = raw.trim_end_matches(['\n', '\r']);
        let Some(parsed) = self.filter.keeps_raw(raw) else {
            return;
        };
        let shown = match (self.output, parsed) {
            (LogOutput::Json, Some(_)) => raw.to_string(),
            (LogOutput::Json, None) => return,
            (LogOutput::Text, Some(map)) => format_line(&map),
            (LogOutput::Text, None) => raw.to_string(),
        };
        match &mut self.tail {
            Some(buffer) => {
                if self.limit == 0 {
                    return;
                }
                if buffer.len() == self.limit {
                    buffer.pop_front();
                }
                buffer.push_back(shown);
            }
            None => println!("{shown}"),
        }
    }

    /// Prints the tail kept so far; later lines print as they come.
    fn flush_tail(&mut self) {
        if let Some(buffer) = self.tail.take() {
            for line in buffer {
                println!("{line}");
            }
        }
    }
}

/// Runs `keelson logs`.
pub fn run(args: &LogsArgs) -> anyhow::Result<Exit> {
    let filter = Filter {
        kind: args.kind.as_deref().map(canonical_kind),
        name: args.name.clone(),
        namespace: args.namespace.clone(),
        min_severity: args.level.map_or(0, |l| match l {
            crate::logging::LogLevel::Debug => 0,
            crate::logging::LogLevel::Info => 1,
            crate::logging::LogLevel::Error => 3,
        }),
        since: match args.since {
            Some(age) => Some(
                Timestamp::now()
                    .checked_sub(age)
                    .context("--since reaches before the epoch")?,
            ),
            None => None,
        },
    };
    block_on(async move {
        match &args.log_file {
            Some(path) => from_file(args, filter, path).await,
            None => from_pods(args, filter).await,
        }
    })
}

async fn from_file(
    args: &LogsArgs,
    filter: Filter,
    path: &std::path::Path,
) -> anyhow::Result<Exit> {
    let mut printer = Printer::new(filter, args.output, args.tail);
    if path.as_os_str() == "-" {
        // Blocking reads on their own thread, so Ctrl-C still reaches the runtime.
        return tokio::task::spawn_blocking(move || {
            use std::io::BufRead as _;
            for line in std::io::stdin().lock().lines() {
                printer.offer(&line.context("failed to read stdin")?);
            }
            printer.flush_tail();
            Ok(Exit::Success)
        })
        .await
        .context("the stdin reader stopped")?;
    }
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("failed to open the log file {}", path.display()))?;
    let mut reader = tokio::io::BufReader::new(file);
    let mut pending = String::new();
    loop {
        let read = reader
            .read_line(&mut pending)
            .await
            .with_context(|| format!("failed to read the log file {}", path.display()))?;
        if read > 0 && pending.ends_with('\n') {
            printer.offer(&pending);
            pending.clear();
            continue;
        }
        // End of what is written so far (a partial last line stays pending).
        printer.flush_tail();
        if !args.follow {
            if !pending.is_empty() {
                printer.offer(&pending);
            }
            return Ok(Exit::Success);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn from_pods(args: &LogsArgs, filter: Filter) -> anyhow::Result<Exit> {
    let cluster = ClusterArgs {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespace: args.keelson_namespace.clone(),
    };
    let client = cluster.client().await?;
    let ns = &args.keelson_namespace;
    let pods: Api<Pod> = Api::namespaced(client, ns);
    let selector = format!(
        "app.kubernetes.io/name={}",
        keelson_install::manifests::CONTROLLER_NAME
    );
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .with_context(|| format!("failed to list the controller pods in {ns}"))?;
    if list.items.is_empty() {
        eprintln!(
            "error: no keelson controller pod in namespace {ns} (selector {selector}); \
             a controller running outside the cluster logs to its stderr: read that with --log-file"
        );
        return Ok(Exit::Failure);
    }
    let params = LogParams {
        container: Some("manager".into()),
        follow: args.follow,
        since_seconds: args
            .since
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1)),
        // Following cannot filter first and tail after, so the server tails (before filtering).
        tail_lines: if args.follow {
            args.tail.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
        } else {
            None
        },
        ..LogParams::default()
    };
    let mut streams = Vec::new();
    for pod in &list.items {
        let name = pod.name_any();
        let reader = pods
            .log_stream(&name, &params)
            .await
            .with_context(|| format!("failed to read the log of pod {ns}/{name}"))?;
        streams.push(reader.lines().map_err(move |e| (name.clone(), e)).boxed());
    }
    let mut printer = Printer::new(
        filter,
        args.output,
        if args.follow { None } else { args.tail },
    );
    if args.follow {
        let mut merged = futures::stream::select_all(streams);
        while let Some(line) = merged.next().await {
            let line =
                line.map_err(|(pod, e)| anyhow::anyhow!("reading the log of pod {pod}: {e}"))?;
            printer.offer(&line);
        }
    } else {
        for mut stream in streams {
            while let Some(line) = stream.next().await {
                let line =
                    line.map_err(|(pod, e)| anyhow::anyhow!("reading the log of pod {pod}: {e}"))?;
                printer.offer(&line);
            }
            printer.flush_tail();
            printer.tail = args.tail.map(VecDeque::with_capacity);
        }
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Map<String, Value> {
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn kinds_by_alias_plural_and_case() {
        assert_eq!(canonical_kind("ks"), "Kustomization");
        assert_eq!(canonical_kind("Kustomizations"), "Kustomization");
        assert_eq!(canonical_kind("gitrepositories"), "GitRepository");
        assert_eq!(canonical_kind("HR"), "HelmRelease");
        assert_eq!(canonical_kind("Widget"), "Widget");
    }

    #[test]
    fn filters_by_object_level_and_time() {
        let info = line(
            r#"{"level":"info","ts":"2026-12-01T10:00:00Z","msg":"applied","controllerKind":"Kustomization","name":"apps","namespace":"team"}"#,
        );
        let error = line(
            r#"{"level":"error","ts":"2026-12-01T10:00:01Z","msg":"failed","controllerKind":"GitRepository","name":"apps","namespace":"team"}"#,
        );
        let bare = line(r#"{"level":"info","ts":"2026-12-01T10:00:00Z","msg":"starting"}"#);
        let by_kind = Filter {
            kind: Some("Kustomization".into()),
            ..Filter::default()
        };
        assert!(by_kind.keeps(&info) && !by_kind.keeps(&error) && !by_kind.keeps(&bare));
        let errors = Filter {
            min_severity: 3,
            ..Filter::default()
        };
        assert!(!errors.keeps(&info) && errors.keeps(&error));
        let recent = Filter {
            since: Some(
                "2026-12-01T10:00:01Z"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
            ..Filter::default()
        };
        assert!(!recent.keeps(&info) && recent.keeps(&error));
        let other_ns = Filter {
            namespace: Some("other".into()),
            ..Filter::default()
        };
        assert!(!other_ns.keeps(&info));
        // Non-JSON lines pass only unfiltered.
        assert_eq!(Filter::default().keeps_raw("panicked at x"), Some(None));
        assert_eq!(by_kind.keeps_raw("panicked at x"), None);
    }

    #[test]
    fn text_lines_name_the_object_and_extra_fields() {
        let text = format_line(&line(
            r#"{"level":"error","ts":"T","msg":"apply failed","logger":"x","controllerKind":"Kustomization","name":"apps","namespace":"team","reconcileID":"1","reason":"BuildFailed","error":"no such file"}"#,
        ));
        assert_eq!(
            text,
            r#"T error Kustomization/apps.team - apply failed reason=BuildFailed error="no such file""#
        );
    }
}
