//! One function per command; each returns the process exit code.

use crate::Exit;
use crate::args::{Cli, Command, VersionArgs};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Version(args) => version(&args),
    }
}

fn version(args: &VersionArgs) -> anyhow::Result<Exit> {
    let version = env!("CARGO_PKG_VERSION");
    if args.short {
        println!("{version}");
    } else {
        println!("keelson {version}");
    }
    Ok(Exit::Success)
}
