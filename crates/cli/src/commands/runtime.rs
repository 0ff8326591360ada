//! What the long-running cluster commands share: the runtime with Ctrl-C handling, a progress
//! printer, and Go-style durations.

use anyhow::Context as _;

/// Runs `future` on a fresh runtime; Ctrl-C stops it and exits with 130.
pub fn block_on<F>(future: F) -> anyhow::Result<crate::Exit>
where
    F: std::future::Future<Output = anyhow::Result<crate::Exit>>,
{
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        tokio::select! {
            result = future => result,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted");
                Ok(crate::Exit::Interrupted)
            }
        }
    })
}

/// Prints progress to stderr, one line per step, unless silenced.
pub struct Printer {
    /// Print nothing.
    pub quiet: bool,
}

impl keelson_install::Progress for Printer {
    fn step(&self, message: &str) {
        if !self.quiet {
            eprintln!("► {message}");
        }
    }
}

impl Printer {
    /// A success line.
    pub fn done(&self, message: &str) {
        if !self.quiet {
            eprintln!("✔ {message}");
        }
    }
}

/// Parses a Go-style duration (`30s`, `5m`, `1h30m`) into a std duration.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<keelson_api::Duration>()
        .map(|d| d.as_std())
        .map_err(|e| e.to_string())
}
