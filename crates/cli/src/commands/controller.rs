//! `keelson controller` and `keelson crds`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::Exit;

/// Arguments of `keelson controller`.
#[derive(Debug, clap::Args)]
pub struct ControllerArgs {
    /// The kubeconfig to use; without it, in-cluster configuration or $KUBECONFIG.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Directory where source artifacts are stored.
    #[arg(long, default_value = "/tmp/keelson-artifacts")]
    pub storage_path: PathBuf,
    /// Address of the artifact HTTP server.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub storage_addr: SocketAddr,
    /// Host (and port) written into artifact URLs; defaults to the listening address.
    #[arg(long)]
    pub storage_adv_addr: Option<String>,
    /// How soon a Kustomization waiting for its dependencies is checked again, in seconds.
    #[arg(long, default_value_t = 30)]
    pub requeue_dependency_seconds: u64,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long)]
    pub namespace: Option<String>,
    /// ServiceAccount (in each Kustomization's namespace) impersonated when a Kustomization
    /// sets no `spec.serviceAccountName` — enforces multi-tenancy, as Flux's flag of that name.
    #[arg(long)]
    pub default_service_account: Option<String>,
    /// Log format: JSON lines (read by `keelson logs`) or console text.
    #[arg(long, value_enum, default_value_t)]
    pub log_encoding: crate::logging::LogEncoding,
    /// Log level (`KEELSON_LOG`, an env-filter directive list, overrides it).
    #[arg(long, value_enum, default_value_t)]
    pub log_level: crate::logging::LogLevel,
}

/// Runs the controller until interrupted.
pub fn run(args: &ControllerArgs) -> anyhow::Result<Exit> {
    crate::logging::init(args.log_encoding, args.log_level);
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        let config = match &args.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .with_context(|| format!("failed to read kubeconfig {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .with_context(|| format!("invalid kubeconfig {}", path.display()))?
            }
            None => kube::Config::infer().await.context("no kubeconfig found and not in a cluster")?,
        };
        let client = kube::Client::try_from(config.clone()).context("failed to create the Kubernetes client")?;
        let settings = keelson_controller::ControllerConfig {
            storage_path: args.storage_path.clone(),
            storage_addr: args.storage_addr,
            storage_advertise: args.storage_adv_addr.clone(),
            requeue_dependency: Duration::from_secs(args.requeue_dependency_seconds),
            namespace: args.namespace.clone(),
            kube_config: Some(config),
            default_service_account: args.default_service_account.clone(),
        };
        tracing::info!(storage = %args.storage_path.display(), addr = %args.storage_addr, "keelson controller starting");
        tokio::select! {
            result = keelson_controller::run(client, settings) => result.context("the controller stopped")?,
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted, shutting down"),
        }
        Ok(Exit::Success)
    })
}

/// Prints the CRDs.
pub fn crds() -> anyhow::Result<Exit> {
    print!(
        "{}",
        keelson_api::crd_yaml().context("failed to serialise the CRDs")?
    );
    Ok(Exit::Success)
}
