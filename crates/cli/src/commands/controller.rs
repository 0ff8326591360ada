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
    /// As Flux's flag: `--watch-all-namespaces=false` watches only the controller's own
    /// namespace ($RUNTIME_NAMESPACE, else the Pod's); `--namespace` names another.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub watch_all_namespaces: bool,
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
    /// Reconciles of one kind run at a time.
    #[arg(long, default_value_t = keelson_controller::DEFAULT_CONCURRENT)]
    pub concurrent: u16,
    /// Reconcile only objects matching this label selector (e.g. `sharding.fluxcd.io/key=shard1`).
    #[arg(long)]
    pub watch_label_selector: Option<String>,
    /// Address of the health probes (`/healthz`, `/readyz`), `HOST:PORT` or `:PORT`.
    #[arg(long, default_value = ":9440", value_parser = keelson_manager::probes::parse_addr)]
    pub health_addr: SocketAddr,
    /// Take part in leader election (a Lease named `keelson-leader-election`); only the leader
    /// reconciles.
    #[arg(long)]
    pub enable_leader_election: bool,
    /// How long a standby waits on an unchanged Lease before taking it over.
    #[arg(long, default_value = "35s", value_parser = parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long the leader retries a failing renewal before it gives up leading.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews the Lease.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub leader_election_retry_period: Duration,
    /// Namespace of the Lease (default: $RUNTIME_NAMESPACE, else the Pod's own namespace).
    #[arg(long)]
    pub leader_election_namespace: Option<String>,
    /// How long running reconciles may take to finish after SIGTERM.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub graceful_shutdown_timeout: Duration,
}

/// The name of the Lease replicas elect a leader with.
pub const LEADER_ELECTION_ID: &str = "keelson-leader-election";

fn parse_duration(text: &str) -> Result<Duration, String> {
    text.parse::<keelson_api::Duration>()
        .map(|d| d.as_std())
        .map_err(|e| e.to_string())
}

/// The namespace watched: `--namespace`, else with `--watch-all-namespaces=false` the
/// controller's own, else none (all namespaces).
fn watched_namespace(args: &ControllerArgs) -> anyhow::Result<Option<String>> {
    match (&args.namespace, args.watch_all_namespaces) {
        (Some(ns), _) => Ok(Some(ns.clone())),
        (None, true) => Ok(None),
        (None, false) => own_namespace(None)
            .map(Some)
            .context("--watch-all-namespaces=false needs the controller's own namespace"),
    }
}

/// The controller's own namespace: the flag, `$RUNTIME_NAMESPACE` (set in keelson's
/// Deployment), or the ServiceAccount's namespace file every Pod has.
fn own_namespace(flag: Option<&str>) -> anyhow::Result<String> {
    if let Some(ns) = flag {
        return Ok(ns.to_string());
    }
    if let Ok(ns) = std::env::var("RUNTIME_NAMESPACE")
        && !ns.is_empty()
    {
        return Ok(ns);
    }
    let file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
    std::fs::read_to_string(file)
        .map(|ns| ns.trim().to_string())
        .with_context(|| {
            format!("no namespace of its own: pass --leader-election-namespace or --namespace, set RUNTIME_NAMESPACE, or run in a Pod ({file})")
        })
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
            namespace: watched_namespace(args)?,
            kube_config: Some(config),
            default_service_account: args.default_service_account.clone(),
            run: keelson_controller::RunSettings {
                concurrent: args.concurrent.max(1),
                label_selector: args.watch_label_selector.clone(),
                ..Default::default()
            },
        };
        let leader_election = if args.enable_leader_election {
            let lease = keelson_manager::LeaseConfig {
                name: LEADER_ELECTION_ID.to_string(),
                namespace: own_namespace(args.leader_election_namespace.as_deref())?,
                identity: keelson_manager::lease::default_identity(),
                lease_duration: args.leader_election_lease_duration,
                renew_deadline: args.leader_election_renew_deadline,
                retry_period: args.leader_election_retry_period,
            };
            lease.validate()?;
            Some(lease)
        } else {
            None
        };
        let options = keelson_manager::ManagerOptions {
            health_addr: args.health_addr,
            leader_election,
            grace_period: args.graceful_shutdown_timeout,
        };
        tracing::info!(storage = %args.storage_path.display(), addr = %args.storage_addr, "keelson controller starting");
        keelson_manager::run(client, settings, options).await?;
        tracing::info!("keelson controller stopped");
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
