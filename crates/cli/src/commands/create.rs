//! `keelson create …` (kustomization, helmrelease and the other sources: [`super::create_kinds`]).
//!
//! `keelson create source git NAME --url … --branch|--tag|--tag-semver|--ref-name|--commit …`:
//! builds a GitRepository as `flux create source git` does. With `--export` it prints the YAML
//! exactly as Flux prints it (keys sorted, durations in Go's form, `---` first) and touches no
//! cluster; otherwise it applies the object with server-side apply and waits until the
//! controller reports Ready, then prints the fetched revision.
//!
//! Exit status: 0 created and Ready (or exported), 1 the controller reported a failure, the wait
//! timed out or the cluster could not be reached, 2 usage errors.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use anyhow::Context as _;
use clap::Subcommand;
use keelson_api::meta::LocalObjectReference;
use keelson_api::source::GitRepositoryRef;
use keelson_api::{Duration, GitRepository, GitRepositorySpec};
use serde_json::Value;

use super::cluster::ClusterArgs;
use super::create_kinds::{self, export_or_apply};
use super::kinds::FluxKind;
use super::output::{self, progress};
use crate::Exit;

/// The field manager of objects `keelson create` applies.
pub const FIELD_MANAGER: &str = "keelson";

/// Arguments of `keelson create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// What to create.
    #[command(subcommand)]
    pub what: CreateWhat,
}

/// The kinds `keelson create` makes.
#[derive(Debug, Subcommand)]
pub enum CreateWhat {
    /// Create or update a source.
    #[command(subcommand)]
    Source(CreateSource),
    /// Create or update a Kustomization.
    #[command(visible_alias = "ks")]
    Kustomization(Box<super::create_kinds::CreateKustomizationArgs>),
    /// Create or update a HelmRelease.
    #[command(visible_alias = "hr")]
    Helmrelease(Box<super::create_kinds::CreateHelmReleaseArgs>),
}

/// The source kinds `keelson create source` makes.
#[derive(Debug, Subcommand)]
pub enum CreateSource {
    /// Create or update a GitRepository source.
    Git(Box<CreateSourceGitArgs>),
    /// Create or update a HelmRepository source.
    Helm(Box<super::create_kinds::CreateSourceHelmArgs>),
    /// Create or update an OCIRepository source.
    Oci(Box<super::create_kinds::CreateSourceOciArgs>),
}

/// Flags every `create` command has (Flux's `create` flags).
#[derive(Debug, Clone, clap::Args)]
pub struct CreateCommon {
    /// How often the object is reconciled.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub interval: Duration,
    /// Print the object as YAML instead of applying it.
    #[arg(long)]
    pub export: bool,
    /// Labels of the object, `key=value` (repeat the flag or separate with commas).
    #[arg(long = "label", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// How long to wait for the object to become Ready.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Cluster and namespace.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Arguments of `keelson create source git`.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateSourceGitArgs {
    /// The GitRepository's name.
    pub name: String,
    /// The repository address: `https://`, `http://`, `ssh://` or (keelson only) `git://`.
    #[arg(long)]
    pub url: String,
    /// The branch to follow.
    #[arg(long)]
    pub branch: Option<String>,
    /// The tag to check out.
    #[arg(long)]
    pub tag: Option<String>,
    /// A semver range: the highest matching tag is checked out.
    #[arg(long = "tag-semver", visible_alias = "semver")]
    pub semver: Option<String>,
    /// A full reference name, e.g. `refs/pull/42/head`.
    #[arg(long)]
    pub ref_name: Option<String>,
    /// A commit SHA (with `--branch`, the branch it is on).
    #[arg(long)]
    pub commit: Option<String>,
    /// An existing Secret with the credentials (`username`/`password`, `bearerToken`, `ca.crt`,
    /// `identity`/`known_hosts`).
    #[arg(long)]
    pub secret_ref: Option<String>,
    /// Paths to leave out of the artifact, in `.gitignore` form (repeat or separate with commas).
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
    /// Also fetch submodules.
    #[arg(long)]
    pub recurse_submodules: bool,
    /// Timeout of Git operations (spec.timeout).
    #[arg(long, value_parser = parse_duration)]
    pub fetch_timeout: Option<Duration>,
    /// Flags of every create command.
    #[command(flatten)]
    pub common: CreateCommon,
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    Duration::from_str(text).map_err(|e| e.to_string())
}

/// Formats a duration as Go's `time.Duration.String` does (`1m0s`, `1h0m0s`, `1.5s`, `500ms`),
/// which is how Flux writes durations into the objects it generates.
pub fn go_duration(duration: StdDuration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, scale) = match nanos {
            n if n < 1_000 => ("ns", 1),
            n if n < 1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", fraction(nanos, scale));
    }
    let secs = nanos / 1_000_000_000;
    let rest = nanos % 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut text = String::new();
    if h > 0 {
        text.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        text.push_str(&format!("{m}m"));
    }
    text.push_str(&fraction(s * 1_000_000_000 + rest, 1_000_000_000));
    text.push('s');
    text
}

/// `value / scale` in decimal, without trailing zeros in the fraction.
fn fraction(value: u128, scale: u128) -> String {
    let whole = value / scale;
    let part = value % scale;
    if part == 0 {
        return whole.to_string();
    }
    let digits = scale.ilog10() as usize;
    let text = format!("{part:0digits$}");
    format!("{whole}.{}", text.trim_end_matches('0'))
}

/// A Go-formatted copy of `duration`.
pub(crate) fn go_form(duration: &Duration) -> anyhow::Result<Duration> {
    parse_duration(&go_duration(duration.as_std())).map_err(anyhow::Error::msg)
}

/// Parses `key=value` labels as Flux's `--label` does.
pub(crate) fn parse_labels(labels: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut parsed = BTreeMap::new();
    for label in labels {
        let Some((key, value)) = label.split_once('=') else {
            anyhow::bail!("invalid label format '{label}', must be key=value");
        };
        let valid_key = !key.is_empty()
            && key.len() <= 253
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        let valid_value = value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid_key {
            anyhow::bail!("invalid label key '{key}'");
        }
        if !valid_value {
            anyhow::bail!("invalid label value '{value}' of key '{key}'");
        }
        parsed.insert(key.to_string(), value.to_string());
    }
    Ok(parsed)
}

/// The URL's scheme, as far as `create` cares.
fn check_url(url: &str) -> anyhow::Result<&str> {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "ssh" | "http" | "https" | "git" => Ok(scheme),
        other => anyhow::bail!(
            "git URL scheme '{other}' not supported, can be: ssh, http, https and git"
        ),
    }
}

/// The GitRepository these arguments describe, as `flux create source git` builds it.
pub fn git_repository(args: &CreateSourceGitArgs) -> anyhow::Result<GitRepository> {
    create_kinds::check_name(&args.name)?;
    check_url(&args.url)?;
    let set = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.is_empty());
    if ![
        &args.branch,
        &args.tag,
        &args.semver,
        &args.commit,
        &args.ref_name,
    ]
    .into_iter()
    .any(set)
    {
        anyhow::bail!(
            "a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver"
        );
    }
    let nonempty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    // Flux's precedence: commit (with its branch), name, semver, tag, branch.
    let mut reference = GitRepositoryRef::default();
    if set(&args.commit) {
        reference.commit = nonempty(&args.commit);
        reference.branch = nonempty(&args.branch);
    } else if set(&args.ref_name) {
        reference.name = nonempty(&args.ref_name);
    } else if set(&args.semver) {
        reference.semver = nonempty(&args.semver);
    } else if set(&args.tag) {
        reference.tag = nonempty(&args.tag);
    } else {
        reference.branch = nonempty(&args.branch);
    }
    let spec = GitRepositorySpec {
        url: args.url.clone(),
        secret_ref: nonempty(&args.secret_ref).map(|name| LocalObjectReference { name }),
        provider: None,
        interval: go_form(&args.common.interval)?,
        timeout: args.fetch_timeout.as_ref().map(go_form).transpose()?,
        reference: Some(reference),
        verify: None,
        proxy_secret_ref: None,
        ignore: (!args.ignore_paths.is_empty()).then(|| args.ignore_paths.join("\n")),
        suspend: None,
        recurse_submodules: args.recurse_submodules.then_some(true),
        include: Vec::new(),
        sparse_checkout: Vec::new(),
        service_account_name: None,
    };
    let mut repo = GitRepository::new(&args.name, spec);
    repo.metadata.namespace = Some(args.common.cluster.namespace.clone());
    let labels = parse_labels(&args.common.labels)?;
    if !labels.is_empty() {
        repo.metadata.labels = Some(labels);
    }
    Ok(repo)
}

/// Recursively sorts object keys, as Go's YAML encoder (through JSON maps) orders them.
fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// `object` as `flux create … --export` prints it: `---`, then the YAML with sorted keys and
/// quoted scalars in single quotes, as Go's YAML encoder writes them.
pub fn export_yaml(object: &impl serde::Serialize) -> anyhow::Result<String> {
    let mut value = serde_json::to_value(object).context("failed to serialise the object")?;
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    let yaml = keelson_manifest::to_yaml(&sort_keys(value));
    let mut out = String::from("---\n");
    // Lines of a literal block scalar are content, never rewritten.
    let mut block: Option<usize> = None;
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        if block.is_some_and(|parent| indent > parent || line.trim().is_empty()) {
            out.push_str(line);
        } else {
            block = ["|", "|-", "|+"]
                .iter()
                .any(|b| line.ends_with(&format!(" {b}")))
                .then_some(indent);
            out.push_str(&single_quoted(line));
        }
        out.push('\n');
    }
    Ok(out)
}

/// Rewrites a line ending in a double-quoted scalar (`key: "…"` or `- "…"`) to Go's
/// single-quoted form when the scalar holds only printable characters; Go keeps double quotes
/// for strings that need escapes, and so does this.
fn single_quoted(line: &str) -> String {
    let Some(body) = line.strip_suffix('"') else {
        return line.to_string();
    };
    let start = match body.rfind(": \"") {
        Some(i) => i + 2,
        None => match body.trim_start().strip_prefix("- \"") {
            Some(_) => body.len() - body.trim_start().len() + 2,
            None => return line.to_string(),
        },
    };
    let quoted = &body[start + 1..];
    let mut text = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(c @ ('"' | '\\')) => text.push(c),
                _ => return line.to_string(),
            },
            '"' => return line.to_string(),
            c if c.is_control() => return line.to_string(),
            c => text.push(c),
        }
    }
    if keelson_manifest::yaml11_non_string(&text) {
        // go-yaml keeps double quotes for strings a YAML 1.1 reader would take for another type.
        return line.to_string();
    }
    format!("{}'{}'", &line[..start], text.replace('\'', "''"))
}

/// Runs `keelson create`.
pub fn run(args: &CreateArgs) -> anyhow::Result<Exit> {
    match &args.what {
        CreateWhat::Source(CreateSource::Git(git)) => create_source_git(git),
        CreateWhat::Source(CreateSource::Helm(args)) => export_or_apply(
            FluxKind::helm_repository(),
            create_kinds::helm_repository(args)?,
            &args.common,
        ),
        CreateWhat::Source(CreateSource::Oci(args)) => export_or_apply(
            FluxKind::oci_repository(),
            create_kinds::oci_repository(args)?,
            &args.common,
        ),
        CreateWhat::Kustomization(args) => export_or_apply(
            FluxKind::kustomization(),
            create_kinds::kustomization(args)?,
            &args.common,
        ),
        CreateWhat::Helmrelease(args) => export_or_apply(
            FluxKind::helm_release(),
            create_kinds::helm_release(args)?,
            &args.common,
        ),
    }
}

fn create_source_git(args: &CreateSourceGitArgs) -> anyhow::Result<Exit> {
    let repo = git_repository(args)?;
    if args.common.export {
        output::print(&export_yaml(&repo)?)?;
        return Ok(Exit::Success);
    }
    if args.secret_ref.is_none() && args.url.starts_with("ssh://") {
        progress(
            '!',
            "no --secret-ref: Git over SSH needs a Secret with 'identity' and 'known_hosts'",
        );
    }
    let object = serde_json::to_value(&repo).context("failed to serialise the GitRepository")?;
    super::runtime::block_on(create_kinds::apply_and_wait(
        FluxKind::git_repository(),
        object,
        &args.common,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings() {
        for (secs, nanos, text) in [
            (0, 0, "0s"),
            (60, 0, "1m0s"),
            (3600, 0, "1h0m0s"),
            (90, 0, "1m30s"),
            (1, 500_000_000, "1.5s"),
            (0, 500_000_000, "500ms"),
            (0, 1_500, "1.5µs"),
            (0, 7, "7ns"),
            (36_000 + 61, 0, "10h1m1s"),
        ] {
            assert_eq!(go_duration(StdDuration::new(secs, nanos)), text);
        }
    }

    #[test]
    fn double_quoted_scalars_become_single_quoted_as_go_writes_them() {
        for (line, want) in [
            (
                r#"  semver: ">=1.0.0 <2.0.0""#,
                "  semver: '>=1.0.0 <2.0.0'",
            ),
            (r#"  tag: "1.0""#, r#"  tag: "1.0""#),
            (r#"  tag: "v1.0: x""#, "  tag: 'v1.0: x'"),
            (r#"- "*.md""#, "- '*.md'"),
            (r#"  a: "it's""#, "  a: 'it''s'"),
            (r#"  a: "say \"hi\"""#, r#"  a: 'say "hi"'"#),
            (r#"  a: "tab\there""#, r#"  a: "tab\there""#),
            ("  url: https://example.com", "  url: https://example.com"),
        ] {
            assert_eq!(single_quoted(line), want, "{line}");
        }
    }

    #[test]
    fn labels_must_be_key_value() {
        assert!(parse_labels(&["a".into()]).is_err());
        assert!(parse_labels(&["a=b c".into()]).is_err());
        let labels = parse_labels(&["team=web".into(), "example.com/tier=1".into()]).unwrap();
        assert_eq!(labels.len(), 2);
    }
}
