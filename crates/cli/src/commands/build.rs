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
    let (root, why) = match &args.root {
        Some(root) => (root.clone(), None),
        None => {
            let (root, why) = default_root(&args.dir)?;
            (root, Some(why))
        }
    };
    let fs = RealFs::new(&root)
        .with_context(|| format!("failed to read the root {}", root.display()))?;
    let yaml = keelson_kustomize::build_yaml(&fs, &args.dir, &options).map_err(|e| {
        let outside = why.filter(|_| outside_root(&e));
        let error = anyhow::Error::new(e);
        match outside {
            // Say where the default root came from and how to widen it: a copy that is no
            // Git work tree otherwise refuses its own `../base`.
            Some(why) => error.context(format!(
                "failed to build {}: nothing outside {} is read ({why}); pass --root DIR to allow more",
                args.dir.display(),
                root.display()
            )),
            None => error.context(format!("failed to build {}", args.dir.display())),
        }
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(yaml.as_bytes())
        .context("failed to write to stdout")?;
    Ok(Exit::Success)
}

/// The folder a build of `dir` is confined to when `--root` is not given: the Git work tree
/// around it (so `../base` resolves, and a checkout's symlinks cannot reach the runner's files),
/// else the current directory when it holds `dir`, else `dir` itself.
/// Returns the root and why it is that one.
fn default_root(dir: &Path) -> anyhow::Result<(PathBuf, &'static str)> {
    let real =
        std::fs::canonicalize(dir).with_context(|| format!("{} does not exist", dir.display()))?;
    if let Some(tree) = super::diff::git_work_tree(&real) {
        return Ok((tree, "the Git work tree around it"));
    }
    if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize)
        && real.starts_with(&cwd)
    {
        return Ok((cwd, "the current directory, which holds it"));
    }
    Ok((
        real,
        "the folder itself: neither a Git work tree nor the current directory holds it",
    ))
}

/// Whether a build failed because a file lies outside the root (kustomize's "security" error).
fn outside_root(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.to_string().contains("is not in or below") {
            return true;
        }
        next = e.source();
    }
    false
}
