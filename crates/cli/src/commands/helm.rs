//! `keelson helm template NAME CHART`: renders a chart in-process as `helm template` does.

use std::path::PathBuf;

use anyhow::Context;
use keelson_helm::render::{RenderOptions, render};
use keelson_helm::value::Map;

use crate::Exit;

/// Arguments of `keelson helm`.
#[derive(Debug, clap::Args)]
pub struct HelmArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: HelmCommand,
}

/// `keelson helm` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum HelmCommand {
    /// Render a chart's manifests (like `helm template`).
    Template(TemplateArgs),
}

/// Arguments of `keelson helm template`.
#[derive(Debug, clap::Args)]
pub struct TemplateArgs {
    /// The release name.
    pub name: String,
    /// The chart: a directory or a packaged `.tgz`.
    pub chart: PathBuf,
    /// Values files, later ones overriding earlier ones.
    #[arg(long = "values", short = 'f')]
    pub values: Vec<PathBuf>,
    /// Values on the command line (`a.b=c,d=e`).
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Values on the command line, always as strings.
    #[arg(long = "set-string")]
    pub set_string: Vec<String>,
    /// The release namespace.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// The Kubernetes version for `.Capabilities.KubeVersion`.
    #[arg(long)]
    pub kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions`.
    #[arg(long = "api-versions", short = 'a')]
    pub api_versions: Vec<String>,
    /// Also print the charts' `crds/`.
    #[arg(long)]
    pub include_crds: bool,
    /// Leave out test hooks.
    #[arg(long)]
    pub skip_tests: bool,
    /// Leave out hooks.
    #[arg(long)]
    pub no_hooks: bool,
    /// Do not validate values against `values.schema.json`.
    #[arg(long)]
    pub skip_schema_validation: bool,
}

/// Runs `keelson helm`.
pub fn run(args: &HelmArgs) -> anyhow::Result<Exit> {
    match &args.command {
        HelmCommand::Template(t) => template(t),
    }
}

fn template(args: &TemplateArgs) -> anyhow::Result<Exit> {
    let chart = keelson_helm::chart::load_path(&args.chart)
        .with_context(|| format!("failed to load chart {}", args.chart.display()))?;
    let mut vals = Map::new();
    for f in &args.values {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("failed to read {}", f.display()))?;
        let parsed = keelson_helm::yaml::parse(&text)
            .with_context(|| format!("failed to parse {}", f.display()))?;
        if let Some(m) = keelson_helm::yaml::json_numbers(parsed).as_map() {
            keelson_helm::values::merge_maps(&mut vals, &m);
        }
    }
    for s in &args.set {
        keelson_helm::values::parse_set(s, &mut vals, false)?;
    }
    for s in &args.set_string {
        keelson_helm::values::parse_set(s, &mut vals, true)?;
    }
    let opts = RenderOptions {
        release_name: args.name.clone(),
        namespace: args.namespace.clone(),
        kube_version: args.kube_version.clone(),
        api_versions: args.api_versions.clone(),
        include_crds: args.include_crds,
        skip_tests: args.skip_tests,
        no_hooks: args.no_hooks,
        skip_schema_validation: args.skip_schema_validation,
        ..RenderOptions::default()
    };
    let rendered = render(chart, &vals, &opts)?;
    print!("{}", rendered.to_template_output(&opts));
    Ok(Exit::Success)
}
