//! Command-line arguments (clap derive), kept apart from the commands that act on them.

use clap::{Parser, Subcommand};

/// keelson: a Flux-compatible GitOps engine for Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "keelson", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// keelson's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print keelson's version.
    Version(VersionArgs),
    /// Encrypt or decrypt files in the sops format with age keys.
    Sops(Box<crate::commands::sops::SopsArgs>),
    /// Render Helm charts in-process (like `helm template`).
    Helm(Box<crate::commands::helm::HelmArgs>),
    /// Build a kustomization and print its objects as YAML (like `kustomize build`).
    Build(crate::commands::build::BuildArgs),
    /// Run the reconcilers (GitRepository, Kustomization) against a cluster.
    Controller(crate::commands::controller::ControllerArgs),
    /// Print keelson's CustomResourceDefinitions as YAML.
    Crds,
    /// Create or update Flux objects (or print them with --export).
    Create(crate::commands::create::CreateArgs),
    /// List Flux objects and their status.
    Get(crate::commands::get::GetArgs),
    /// Install keelson on a cluster, or print the install manifests (--export).
    Install(Box<crate::commands::install::InstallArgs>),
    /// Remove keelson from a cluster (keeps the workloads unless asked).
    Uninstall(crate::commands::install::UninstallArgs),
    /// Write a release's immutable bootstrap file and move its minor line's tracking file.
    Release(crate::commands::release::ReleaseArgs),
    /// Commit keelson's manifests to a Git repository, install, and sync from it.
    Bootstrap(crate::commands::bootstrap::BootstrapArgs),
    /// Check the cluster's prerequisites and keelson's health.
    Check(crate::commands::check::CheckArgs),
    /// Ask for a reconcile now, wait for it and report the outcome.
    Reconcile(crate::commands::reconcile::ReconcileArgs),
    /// Stop reconciling objects.
    Suspend(crate::commands::reconcile::ReconcileArgs),
    /// Resume reconciling objects (and wait for a reconcile).
    Resume(crate::commands::reconcile::ReconcileArgs),
    /// Show what a Kustomization applied, as a tree.
    Tree(crate::commands::tree::TreeArgs),
    /// Show the events of keelson's objects.
    Events(crate::commands::events::EventsArgs),
    /// Show the controller's log lines about chosen objects.
    Logs(crate::commands::logs::LogsArgs),
    /// Print objects as YAML without status, ready for Git.
    Export(crate::commands::reconcile::ReconcileArgs),
    /// Compare a local tree with the cluster through a server-side dry-run.
    Diff(crate::commands::diff::DiffArgs),
    /// Check a repository offline: render, graph, schemas, secrets (the CI gate).
    Validate(crate::commands::validate::ValidateArgs),
    /// Generate the schema bundle `validate` uses from an apiserver's /openapi/v3.
    Schemas(crate::commands::schemas::SchemasArgs),
}

/// Arguments of `keelson version`.
#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Print only the version number.
    #[arg(long)]
    pub short: bool,
}
