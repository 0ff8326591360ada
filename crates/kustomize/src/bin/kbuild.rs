//! `kbuild DIR [--load-restrictor LoadRestrictionsRootOnly|LoadRestrictionsNone]`: the
//! kustomize engine alone, doing what `keelson build` does (the same library call, the same
//! output) in a binary that builds in seconds rather than the whole CLI's minutes. The benchmark
//! (`bench/kustomize.sh --engine`) uses it for quick measurements.

use std::io::Write;
use std::process::ExitCode;

use keelson_kustomize::{LoadRestrictor, Options, RealFs};

fn main() -> ExitCode {
    let mut dir = None;
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let restrictor = match arg.as_str() {
            "--load-restrictor" => args.next(),
            a => a.strip_prefix("--load-restrictor=").map(str::to_string),
        };
        match (restrictor.as_deref(), arg.starts_with("--load-restrictor")) {
            (Some("LoadRestrictionsNone"), _) => options.load_restrictor = LoadRestrictor::None,
            (Some("LoadRestrictionsRootOnly"), _) => {
                options.load_restrictor = LoadRestrictor::RootOnly;
            }
            (_, true) => {
                eprintln!(
                    "error: --load-restrictor needs LoadRestrictionsRootOnly or LoadRestrictionsNone"
                );
                return ExitCode::from(2);
            }
            (_, false) => dir = Some(arg),
        }
    }
    let dir = dir.unwrap_or_else(|| ".".into());
    // Files may come from anywhere below the current directory (or the built directory, when
    // it lies elsewhere) and never from outside it, whatever symlinks say.
    let root = match (std::env::current_dir(), std::fs::canonicalize(&dir)) {
        (Ok(cwd), Ok(real)) if real.starts_with(&cwd) => cwd,
        _ => dir.clone().into(),
    };
    let fs = match RealFs::new(&root) {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match keelson_kustomize::build_yaml(&fs, dir.as_ref(), &options) {
        Ok(yaml) => match std::io::stdout().lock().write_all(yaml.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: failed to write to stdout: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: failed to build {dir}: {e}");
            ExitCode::FAILURE
        }
    }
}
