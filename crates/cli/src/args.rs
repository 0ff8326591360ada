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
}

/// Arguments of `keelson version`.
#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Print only the version number.
    #[arg(long)]
    pub short: bool,
}
