//! keelson's reconcilers.
//!
//! [`run`] starts the GitRepository, HelmRepository, HelmChart, OCIRepository, Kustomization and
//! HelmRelease reconcilers on kube-runtime, plus the HTTP server for source artifacts, and runs
//! until the process is stopped. Each reconcile is a shell of gates (suspended? source ready?
//! dependencies ready?) around a list of one-verb steps — fetch, build, substitute, apply,
//! prune, assess, report — and every failure maps to one Ready=False reason from
//! [`keelson_api::condition::reasons`].
//!
//! The controller runs in the cluster or, as in keelson's tests, as a process outside it with a
//! kubeconfig.

pub mod chartsource;
mod context;
pub mod decrypt;
mod events;
mod gitrepository;
pub mod health_expr;
mod helmchart;
pub mod helmrelease;
mod helmrepository;
mod kustomization;
mod ocirepository;
pub mod overlay;
pub mod render;
mod runner;
pub mod substitute;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use context::{Context, RunSettings, Shutdown, Synced, never};

/// Reconciles of one kind at a time when `--concurrent` is not given (Flux's
/// kustomize-controller and helm-controller default).
pub const DEFAULT_CONCURRENT: u16 = 4;

/// Settings of the controller process.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Where source artifacts are stored.
    pub storage_path: PathBuf,
    /// Address the artifact server listens on.
    pub storage_addr: SocketAddr,
    /// The host (and port) written into artifact URLs; defaults to `storage_addr`.
    pub storage_advertise: Option<String>,
    /// How soon a Kustomization waiting for dependencies is checked again (Flux: 30s).
    pub requeue_dependency: Duration,
    /// Watch only this namespace (Flux's `--watch-all-namespaces=false`); all when `None`.
    pub namespace: Option<String>,
    /// The configuration `client` was built from; needed to impersonate ServiceAccounts
    /// (`spec.serviceAccountName`). Without it such Kustomizations fail with a clear reason.
    pub kube_config: Option<kube::Config>,
    /// ServiceAccount impersonated by Kustomizations that name none (Flux's
    /// `--default-service-account`, enforcing multi-tenancy).
    pub default_service_account: Option<String>,
    /// Concurrency, label selector, shutdown and sync reporting of the reconcilers.
    pub run: RunSettings,
}

impl Default for ControllerConfig {
    /// Flux's defaults: storage in `/data`, artifact server on port 9090, dependencies
    /// re-checked every 30s, all namespaces watched.
    fn default() -> Self {
        Self {
            storage_path: PathBuf::from("/data"),
            storage_addr: SocketAddr::from(([0, 0, 0, 0], 9090)),
            storage_advertise: None,
            requeue_dependency: Duration::from_secs(30),
            namespace: None,
            kube_config: None,
            default_service_account: None,
            run: RunSettings::default(),
        }
    }
}

/// Why the controller stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The artifact storage could not be opened.
    #[error("failed to open the artifact storage")]
    Storage(#[from] keelson_source::StorageError),
    /// The artifact server could not listen.
    #[error("failed to listen on {addr} for the artifact server")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Runs the reconcilers and the artifact server until `config.run.shutdown` resolves (then
/// returns once running reconciles have finished) or the future is dropped.
pub async fn run(client: kube::Client, config: ControllerConfig) -> Result<(), RunError> {
    let listener = tokio::net::TcpListener::bind(config.storage_addr)
        .await
        .map_err(|source| RunError::Listen {
            addr: config.storage_addr,
            source,
        })?;
    let advertise = config.storage_advertise.clone().unwrap_or_else(|| {
        listener
            .local_addr()
            .map_or(config.storage_addr, |a| a)
            .to_string()
    });
    let storage = keelson_source::Storage::new(&config.storage_path, advertise)?;
    let router = keelson_source::server::artifact_router(storage.root().to_path_buf());
    let shutdown = config.run.shutdown.clone();
    let server = async move {
        // Artifacts stay served until the reconcilers are asked to stop.
        if let Err(err) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%err, "artifact server stopped");
        }
    };
    let mut ctx = Context::new(
        client,
        storage,
        config.requeue_dependency,
        config.namespace.clone(),
    );
    ctx.kube_config = config.kube_config.clone();
    ctx.default_service_account = config.default_service_account.clone();
    ctx.run = config.run.clone();
    // The six reconcilers below report their first list to `synced`.
    ctx.run.synced.expect(6);
    let ctx = Arc::new(ctx);
    let charts = Arc::new(chartsource::ArtifactSource::new(ctx.clone()));
    tokio::join!(
        server,
        gitrepository::run(ctx.clone()),
        kustomization::run(ctx.clone()),
        helmrepository::run(ctx.clone()),
        helmchart::run(ctx.clone()),
        ocirepository::run(ctx.clone()),
        helmrelease::run(ctx, charts)
    );
    Ok(())
}
