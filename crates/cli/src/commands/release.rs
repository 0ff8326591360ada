//! `keelson release`: immutable per-patch bootstrap files and the moving file of a minor line.

use std::path::PathBuf;

use anyhow::Context as _;
use keelson_install::release::{ReleaseOptions, release};

use crate::Exit;

/// Arguments of `keelson release`.
#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    /// The version to release (X.Y.Z).
    #[arg(long)]
    pub version: semver::Version,
    /// The source directory of the minor line, relative to the repository root (src/X.Y).
    #[arg(long)]
    pub src: PathBuf,
    /// The repository URL the embedded drift guard follows.
    #[arg(long)]
    pub repo_url: String,
    /// The branch the drift guard follows.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Where release files are written (files land in <out>/X.Y/).
    #[arg(long, default_value = "release")]
    pub out: PathBuf,
    /// The repository root that --src is relative to.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// The name of the drift guard's GitRepository and Kustomization.
    #[arg(long, default_value = "bootstrap")]
    pub name: String,
    /// The namespace of the drift guard.
    #[arg(long, short = 'n', default_value = keelson_install::manifests::DEFAULT_NAMESPACE)]
    pub namespace: String,
}

/// Writes the release files and says what moved.
pub fn run(args: &ReleaseArgs) -> anyhow::Result<Exit> {
    let options = ReleaseOptions {
        version: args.version.clone(),
        src: args.src.clone(),
        root: args.root.clone(),
        repo_url: args.repo_url.clone(),
        branch: args.branch.clone(),
        out: args.out.clone(),
        name: args.name.clone(),
        namespace: args.namespace.clone(),
    };
    let released =
        release(&options).with_context(|| format!("failed to release {}", args.version))?;
    for warning in &released.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "{} {}",
        if released.created {
            "wrote"
        } else {
            "unchanged"
        },
        released.immutable.display()
    );
    println!(
        "{} -> {}",
        released.tracking.display(),
        released.tracking_version
    );
    Ok(Exit::Success)
}
