//! `keelson build DIR`: builds a kustomization in-process and prints the objects as
//! multi-document YAML, like `kustomize build`.

use std::io::Write;
use std::path::{Path, PathBuf};

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
    /// No file outside this folder is read, whatever the load restrictor and symlinks say
    /// (default: the Git work tree around DIR; outside one, the current directory when it holds
    /// DIR, else DIR).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
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
    let root = match &args.root {
        Some(root) => root.clone(),
        None => default_root(&args.dir)?,
    };
    let fs = RealFs::new(&root)
        .with_context(|| format!("failed to read the root {}", root.display()))?;
    let yaml = keelson_kustomize::build_yaml(&fs, &args.dir, &options)
        .with_context(|| format!("failed to build {}", args.dir.display()))?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(yaml.as_bytes())
        .context("failed to write to stdout")?;
    Ok(Exit::Success)
}

/// The folder a build of `dir` is confined to when `--root` is not given: the Git work tree
/// around it (so `../base` resolves, and a checkout's symlinks cannot reach the runner's files),
/// else the current directory when it holds `dir`, else `dir` itself.
fn default_root(dir: &Path) -> anyhow::Result<PathBuf> {
    let real =
        std::fs::canonicalize(dir).with_context(|| format!("{} does not exist", dir.display()))?;
    if let Some(tree) = super::diff::git_work_tree(&real) {
        return Ok(tree);
    }
    if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize)
        && real.starts_with(&cwd)
    {
        return Ok(cwd);
    }
    Ok(real)
}
