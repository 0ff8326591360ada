//! The `keelson` binary: parses the command line and hands the work to the library crates.

mod args;
mod commands;
mod logging;

use std::process::ExitCode;

use clap::Parser;

/// Process exit codes that scripts can rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked.
    Success = 0,
    /// The command ran but found problems, or the operation failed.
    Failure = 1,
    /// The command line was wrong, or keelson itself failed.
    Error = 2,
    /// The command was interrupted (Ctrl-C).
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

fn main() -> ExitCode {
    // Dependencies enable both of rustls' crypto providers; pick one for the whole process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            // Print the whole cause chain: the outermost context first, the root cause last.
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            Exit::Failure.into()
        }
    }
}
