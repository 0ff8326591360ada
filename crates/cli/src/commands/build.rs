//! `keelson build DIR`: builds a kustomization in-process and prints the objects as
//! multi-document YAML, like `kustomize build`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use keelson_kustomize::{LoadRestrictor, Options, RealFs};

use crate::Exit;

/// Arguments of `keelson build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The directory holding the kustomization.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Which files kustomizations may read: only those under their own directory (kustomize's
    /// default) or any (what Flux uses).
    #[arg(long, value_enum, default_value_t = Restrictor::LoadRestrictionsRootOnly)]
    pub load_restrictor: Restrictor,
    /// Build a Kustomization's local tree as the controller would (`build kustomization NAME
    /// --path DIR`).
    #[command(subcommand)]
    pub target: Option<super::diff::BuildTarget>,
}

/// Values of `--load-restrictor`, spelled as kustomize spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "verbatim")]
pub enum Restrictor {
    /// Files must lie under the kustomization's directory.
    LoadRestrictionsRootOnly,
    /// Any file may be read.
    LoadRestrictionsNone,
}

/// Builds and prints; nothing is printed on stdout when the build fails.
pub fn run(args: &BuildArgs) -> anyhow::Result<Exit> {
    if let Some(super::diff::BuildTarget::Kustomization(target)) = &args.target {
        return super::diff::build(target);
    }
    let options = Options {
        load_restrictor: match args.load_restrictor {
            Restrictor::LoadRestrictionsRootOnly => LoadRestrictor::RootOnly,
            Restrictor::LoadRestrictionsNone => LoadRestrictor::None,
        },
    };
    let yaml = keelson_kustomize::build_yaml(&RealFs, &args.dir, &options)
        .with_context(|| format!("failed to build {}", args.dir.display()))?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(yaml.as_bytes())
        .context("failed to write to stdout")?;
    Ok(Exit::Success)
}
