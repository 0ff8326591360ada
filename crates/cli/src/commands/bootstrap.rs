//! `keelson bootstrap git`: commit keelson's manifests to a repository, install, and sync.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use keelson_install::bootstrap::{BootstrapOptions, GitTarget, bootstrap};
use keelson_install::git::{GitCredentials, scan_host_keys};

use super::cluster::ClusterArgs;
use super::install::ComponentArgs;
use super::runtime::{Printer, block_on, parse_duration};
use crate::Exit;

/// Arguments of `keelson bootstrap`.
#[derive(Debug, clap::Args)]
pub struct BootstrapArgs {
    /// Where the repository is hosted.
    #[command(subcommand)]
    pub provider: Provider,
}

/// Repository hosts.
#[derive(Debug, clap::Subcommand)]
pub enum Provider {
    /// Any Git server reachable by URL (ssh, http(s), git).
    Git(Box<GitArgs>),
}

/// Arguments of `keelson bootstrap git`.
#[derive(Debug, clap::Args)]
pub struct GitArgs {
    /// The repository URL.
    #[arg(long)]
    pub url: String,
    /// The branch to commit to and follow.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// The directory of this cluster in the repository.
    #[arg(long, default_value = ".")]
    pub path: String,
    /// An SSH private key for ssh URLs.
    #[arg(long)]
    pub private_key_file: Option<PathBuf>,
    /// The server's host keys in known_hosts format (default: scanned with ssh-keyscan).
    #[arg(long)]
    pub ssh_known_hosts_file: Option<PathBuf>,
    /// The user name for HTTP basic authentication.
    #[arg(long, short = 'u')]
    pub username: Option<String>,
    /// The password or token for HTTP basic authentication.
    #[arg(long, short = 'p', env = "GIT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// The GitRepository's interval.
    #[arg(long, default_value = "1m0s")]
    pub interval: String,
    /// How long to wait for the controller and the first sync.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The commit author's name.
    #[arg(long, default_value = "keelson")]
    pub author_name: String,
    /// The commit author's e-mail.
    #[arg(long, default_value = "keelson@users.noreply.invalid")]
    pub author_email: String,
    /// What to install.
    #[command(flatten)]
    pub components: ComponentArgs,
    /// Print no progress.
    #[arg(long, short = 's')]
    pub silent: bool,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Runs the bootstrap.
pub fn run(args: &BootstrapArgs) -> anyhow::Result<Exit> {
    let Provider::Git(args) = &args.provider;
    let credentials = credentials(args)?;
    let options = BootstrapOptions {
        target: GitTarget {
            url: args.url.clone(),
            branch: args.branch.clone(),
            credentials,
        },
        path: args.path.clone(),
        install: args.components.options(&args.cluster.namespace),
        author_name: args.author_name.clone(),
        author_email: args.author_email.clone(),
        timeout: args.timeout,
        interval: args.interval.clone(),
    };
    let printer = Printer { quiet: args.silent };
    block_on(async {
        let client = args.cluster.client().await?;
        let done = bootstrap(&client, &options, &printer)
            .await
            .context("bootstrap failed")?;
        printer.done(&format!("bootstrap finished: {} is Ready", done.revision));
        Ok(Exit::Success)
    })
}

fn credentials(args: &GitArgs) -> anyhow::Result<GitCredentials> {
    if let Some(key) = &args.private_key_file {
        anyhow::ensure!(
            args.username.is_none() && args.password.is_none(),
            "--private-key-file and --username/--password exclude each other"
        );
        let identity =
            std::fs::read(key).with_context(|| format!("failed to read {}", key.display()))?;
        let known_hosts = match &args.ssh_known_hosts_file {
            Some(file) => {
                std::fs::read(file).with_context(|| format!("failed to read {}", file.display()))?
            }
            None => scan_host_keys(&args.url)
                .with_context(|| format!("failed to scan the host keys of {}", args.url))?,
        };
        return Ok(GitCredentials::Ssh {
            identity,
            known_hosts,
        });
    }
    match (&args.username, &args.password) {
        (Some(username), Some(password)) => Ok(GitCredentials::Basic {
            username: username.clone(),
            password: password.clone(),
        }),
        (None, None) => Ok(GitCredentials::None),
        _ => anyhow::bail!("--username and --password go together"),
    }
}
