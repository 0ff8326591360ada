//! `keelson install [--export]` and `keelson uninstall`.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use anyhow::Context as _;
use keelson_install::{InstallOptions, UninstallOptions};

use super::cluster::ClusterArgs;
use super::runtime::{Printer, block_on, parse_duration};
use crate::Exit;

/// What to install: shared by `install` and `bootstrap`.
#[derive(Debug, Clone, clap::Args)]
pub struct ComponentArgs {
    /// The controller image (default: ghcr.io/keelson/keelson:<this version>).
    #[arg(long)]
    pub image: Option<String>,
    /// The registry to take the controller image from: `<registry>/keelson:<this version>`
    /// (as `flux install --registry`).
    #[arg(long, conflicts_with = "image")]
    pub registry: Option<String>,
    /// The ClusterRole the controller applies with when a Kustomization names no service
    /// account; `none` binds none, so Kustomizations must name one.
    #[arg(long, default_value = "cluster-admin")]
    pub reconciler_role: String,
    /// The controller's log level.
    #[arg(long, default_value = "info", value_parser = ["debug", "info", "error"])]
    pub log_level: String,
}

impl ComponentArgs {
    /// The library's install options.
    pub fn options(&self, namespace: &str) -> InstallOptions {
        let mut options = InstallOptions::in_namespace(namespace);
        let from_registry = self.registry.as_ref().map(|r| {
            format!(
                "{}/keelson:{}",
                r.trim_end_matches('/'),
                env!("CARGO_PKG_VERSION")
            )
        });
        if let Some(image) = self.image.as_ref().or(from_registry.as_ref()) {
            image.clone_into(&mut options.image);
            // The version label follows the image tag when there is one.
            if let Some((_, tag)) = image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                options.version = tag.trim_start_matches('v').to_string();
            }
        }
        options.reconciler_role =
            (self.reconciler_role != "none").then(|| self.reconciler_role.clone());
        self.log_level.clone_into(&mut options.log_level);
        options
    }
}

/// Arguments of `keelson install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Print the manifests instead of applying them.
    #[arg(long)]
    pub export: bool,
    /// What to install.
    #[command(flatten)]
    pub components: ComponentArgs,
    /// How long to wait for the controller to become Available.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print no progress.
    #[arg(long, short = 's')]
    pub silent: bool,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Prints or applies the install bundle.
pub fn run(args: &InstallArgs) -> anyhow::Result<Exit> {
    let options = args.components.options(&args.cluster.namespace);
    if args.export {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(keelson_install::components_yaml(&options).as_bytes())
            .context("failed to write to stdout")?;
        return Ok(Exit::Success);
    }
    let printer = Printer { quiet: args.silent };
    block_on(async {
        let client = args.cluster.client().await?;
        keelson_install::install(&client, &options, args.timeout, &printer)
            .await
            .context("install failed")?;
        printer.done(&format!(
            "keelson {} is installed in {}",
            options.version, options.namespace
        ));
        Ok(Exit::Success)
    })
}

/// Arguments of `keelson uninstall`.
#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// Keep the namespace.
    #[arg(long)]
    pub keep_namespace: bool,
    /// Keep the CRDs (and the GitRepositories and Kustomizations of other namespaces).
    #[arg(long)]
    pub keep_crds: bool,
    /// Let the controller prune what the Kustomizations applied (by default the workloads stay).
    #[arg(long)]
    pub prune_workloads: bool,
    /// Only list what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation, print no progress.
    #[arg(long, short = 's')]
    pub silent: bool,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Removes keelson from the cluster.
pub fn uninstall(args: &UninstallArgs) -> anyhow::Result<Exit> {
    if !args.silent && !args.dry_run && std::io::stdin().is_terminal() {
        eprint!(
            "Remove keelson from namespace {}{}? [y/N] ",
            args.cluster.namespace,
            if args.keep_crds {
                ""
            } else {
                " and delete its CRDs"
            }
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .context("failed to read the answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing removed");
            return Ok(Exit::Failure);
        }
    }
    let printer = Printer { quiet: args.silent };
    let install = InstallOptions::in_namespace(args.cluster.namespace.clone());
    let options = UninstallOptions {
        keep_namespace: args.keep_namespace,
        keep_crds: args.keep_crds,
        prune_workloads: args.prune_workloads,
        dry_run: args.dry_run,
    };
    block_on(async {
        let client = args.cluster.client().await?;
        let removed = keelson_install::uninstall(&client, &install, &options, &printer)
            .await
            .context("uninstall failed")?;
        if args.dry_run {
            for item in &removed {
                println!("{item}");
            }
        } else {
            printer.done(&format!("uninstalled ({} objects)", removed.len()));
        }
        Ok(Exit::Success)
    })
}
