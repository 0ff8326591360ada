//! One module per command; each exposes `run`, which returns the process exit code.

pub(crate) mod bootstrap;
pub(crate) mod build;
pub(crate) mod check;
pub(crate) mod cluster;
pub(crate) mod controller;
pub(crate) mod create;
pub(crate) mod create_kinds;
pub(crate) mod diff;
pub(crate) mod events;
pub(crate) mod export;
pub(crate) mod get;
pub(crate) mod helm;
pub(crate) mod install;
pub(crate) mod kinds;
pub(crate) mod logs;
pub(crate) mod output;
pub(crate) mod reconcile;
pub(crate) mod release;
pub(crate) mod runtime;
pub(crate) mod schemas;
pub(crate) mod sops;
pub(crate) mod tree;
pub(crate) mod validate;
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
        Command::Install(args) => install::run(&args),
        Command::Uninstall(args) => install::uninstall(&args),
        Command::Release(args) => release::run(&args),
        Command::Bootstrap(args) => bootstrap::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Reconcile(args) => reconcile::reconcile(&args),
        Command::Suspend(args) => reconcile::set_suspended(&args, true),
        Command::Resume(args) => reconcile::set_suspended(&args, false),
        Command::Tree(args) => tree::run(&args),
        Command::Events(args) => events::run(&args),
        Command::Logs(args) => logs::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Diff(args) => diff::diff(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Schemas(args) => schemas::run(&args),
    }
}
