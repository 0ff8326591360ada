//! One module per command; each exposes `run`, which returns the process exit code.

pub(crate) mod build;
pub(crate) mod cluster;
pub(crate) mod controller;
pub(crate) mod create;
pub(crate) mod get;
pub(crate) mod helm;
pub(crate) mod output;
pub(crate) mod sops;
mod version;

use crate::Exit;
use crate::args::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Version(args) => version::run(&args),
        Command::Sops(args) => sops::run(&args),
        Command::Helm(args) => helm::run(&args),
        Command::Build(args) => build::run(&args),
        Command::Controller(args) => controller::run(&args),
        Command::Crds => controller::crds(),
        Command::Create(args) => create::run(&args),
        Command::Get(args) => get::run(&args),
    }
}
