//! `keelson validate [DIR]`: the offline CI gate. Renders a Flux repository as the controllers
//! would, checks its object graph, validates objects against schemas and scans for secrets;
//! prints findings with file:line locations.
//!
//! Exit codes: 0 no errors, 1 findings of severity error, 2 usage or internal error.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use keelson_validate::{Options, Report, Severity};

use crate::Exit;

/// Arguments of `keelson validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The repository (or directory) to check.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Also print informational findings (skipped sources, …).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Do not scan for secrets.
    #[arg(long)]
    pub no_secrets: bool,
    /// Do not validate objects against schemas.
    #[arg(long)]
    pub no_schemas: bool,
    /// Refuse unknown fields, and report kinds without a schema as errors.
    #[arg(long)]
    pub strict: bool,
    /// The Kubernetes version whose built-in schemas apply (bundled: 1.36; others need
    /// --schemas).
    #[arg(long, default_value = keelson_validate::schema::Bundle::BUILTIN_VERSION)]
    pub kubernetes_version: String,
    /// A schema bundle written by `keelson schemas` to use instead of the bundled one.
    #[arg(long)]
    pub schemas: Option<PathBuf>,
    /// Also scan every blob of the git history for secrets.
    #[arg(long)]
    pub history: bool,
    /// Report only findings in files that differ from this git revision (pre-commit mode).
    #[arg(long, value_name = "REV")]
    pub changed_since: Option<String>,
    /// A directory of packaged charts (`<name>-<version>.tgz`, as Helm's repository cache
    /// keeps them): HelmReleases whose charts come from a HelmRepository are rendered from it.
    #[arg(long, value_name = "DIR")]
    pub chart_cache: Option<PathBuf>,
    /// Read a source from a folder of the repository, as `Kind/namespace/name=path`
    /// (`OCIRepository/flux-system/flux-system=./kubernetes`); repeatable or comma-separated.
    /// A source whose Kustomizations' paths only one folder holds is mapped without it.
    #[arg(long, value_name = "SOURCE=PATH", value_delimiter = ',')]
    pub local_sources: Vec<keelson_validate::render::LocalSource>,
}

/// Values of `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable lines: `file:line: severity[rule] message`.
    Text,
    /// One JSON document: `{findings: [...], stats: {...}}`.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// JUnit XML, for CI test reports.
    Junit,
}

/// Runs the gate and prints the report.
pub fn run(args: &ValidateArgs) -> anyhow::Result<Exit> {
    let bundle = match &args.schemas {
        Some(path) => {
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: failed to read {}: {e}", path.display());
                    return Ok(Exit::Error);
                }
            };
            match keelson_validate::schema::Bundle::from_gzip(&bytes) {
                Ok(b) => Some(b),
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return Ok(Exit::Error);
                }
            }
        }
        None => {
            let wanted = args.kubernetes_version.trim_start_matches('v');
            let builtin = keelson_validate::schema::Bundle::BUILTIN_VERSION;
            if wanted != builtin && !wanted.starts_with(&format!("{builtin}.")) {
                eprintln!(
                    "error: no bundled schemas for Kubernetes {wanted} (bundled: {builtin}); generate them with `keelson schemas -o FILE` and pass --schemas FILE"
                );
                return Ok(Exit::Error);
            }
            None
        }
    };
    let options = Options {
        no_secrets: args.no_secrets,
        no_schemas: args.no_schemas,
        strict: args.strict,
        bundle,
        history: args.history,
        changed_since: args.changed_since.clone(),
        chart_cache: args.chart_cache.clone(),
        local_sources: args.local_sources.clone(),
    };
    let report = match keelson_validate::validate(&args.dir, &options) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(Exit::Error);
        }
    };
    let mut out = std::io::stdout().lock();
    match args.output {
        Format::Text => print_text(&mut out, &report, args.verbose),
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report).context("failed to write JSON")?;
            writeln!(out).map_err(anyhow::Error::from)
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut out, &keelson_validate::format::sarif(&report))
                .context("failed to write SARIF")?;
            writeln!(out).map_err(anyhow::Error::from)
        }
        Format::Junit => out
            .write_all(keelson_validate::format::junit(&report).as_bytes())
            .map_err(anyhow::Error::from),
    }
    .context("failed to write to stdout")?;
    Ok(if report.failed() {
        Exit::Failure
    } else {
        Exit::Success
    })
}

fn print_text(out: &mut impl Write, report: &Report, verbose: bool) -> anyhow::Result<()> {
    for f in &report.findings {
        if f.severity == Severity::Info && !verbose {
            continue;
        }
        writeln!(
            out,
            "{}: {}[{}] {}",
            f.location,
            f.severity.as_str(),
            f.rule,
            f.message
        )?;
    }
    let s = &report.stats;
    writeln!(
        out,
        "{} error(s), {} warning(s), {} note(s); {} files, {} Flux Kustomizations, {} plain kustomizations, {} HelmReleases, {} objects, {} validated against a schema",
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Info),
        s.files,
        s.kustomizations,
        s.plain_trees,
        s.helm_releases,
        s.objects,
        s.validated,
    )?;
    Ok(())
}
