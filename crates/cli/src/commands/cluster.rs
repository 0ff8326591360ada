//! Flags shared by the commands that talk to a cluster (`get`, `create`, …) and the client
//! they build, spelled as Flux spells them: `--kubeconfig`, `--context`, `-n/--namespace`
//! (default `flux-system`).

use std::path::PathBuf;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// The namespace Flux's commands use when none is given.
pub const DEFAULT_NAMESPACE: &str = "flux-system";

/// How to reach the cluster and which namespace to work in.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// The kubeconfig to use; without it, $KUBECONFIG, ~/.kube/config or in-cluster settings.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of the current one.
    #[arg(long)]
    pub context: Option<String>,
    /// The namespace of the objects.
    #[arg(short = 'n', long, default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
}

impl ClusterArgs {
    /// A client for the cluster these flags name.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .with_context(|| format!("failed to read kubeconfig {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .with_context(|| format!("invalid kubeconfig {}", path.display()))?
            }
            None if self.context.is_some() => kube::Config::from_kubeconfig(&options)
                .await
                .context("failed to load the kubeconfig")?,
            None => kube::Config::infer()
                .await
                .context("no kubeconfig found and not in a cluster")?,
        };
        kube::Client::try_from(config).context("failed to create the Kubernetes client")
    }
}
