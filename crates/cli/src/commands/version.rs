//! `keelson version`.

use crate::Exit;
use crate::args::VersionArgs;

/// Prints keelson's version.
pub fn run(args: &VersionArgs) -> anyhow::Result<Exit> {
    let version = env!("CARGO_PKG_VERSION");
    if args.short {
        println!("{version}");
    } else {
        println!("keelson {version}");
    }
    Ok(Exit::Success)
}
