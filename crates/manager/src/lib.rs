//! The controller as a cluster citizen: the process around keelson's reconcilers.
//!
//! [`run`] serves the health probes ([`probes`]), takes part in leader election with a
//! `coordination.k8s.io` Lease when asked ([`lease`], Flux's `--enable-leader-election`), runs
//! the reconcilers only while leading, and on SIGTERM or SIGINT shuts down gracefully: no new
//! work is taken, running reconciles finish (bounded by the grace period), the Lease is
//! released so a standby takes over at once, and the process exits 0. When leadership is lost
//! (renewals failed for the renew deadline) it stops reconciling and returns an error, so the
//! process exits non-zero and is restarted as a standby — as controller-runtime does.

pub mod lease;
pub mod probes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use keelson_controller::ControllerConfig;

pub use lease::{Elector, LeaseConfig};
pub use probes::{Health, Phase};

/// How the process runs around the reconcilers.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Where `/healthz` and `/readyz` are served (Flux: `:9440`).
    pub health_addr: SocketAddr,
    /// Leader election, when enabled.
    pub leader_election: Option<LeaseConfig>,
    /// How long running reconciles may take to finish after a stop signal before the process
    /// gives up on them (keep it below the Pod's `terminationGracePeriodSeconds`).
    pub grace_period: Duration,
}

/// Why the manager stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The probe server could not start.
    #[error(transparent)]
    Probes(#[from] probes::ListenError),
    /// The reconcilers could not start.
    #[error("the controller stopped")]
    Controller(#[from] keelson_controller::RunError),
    /// This replica lost the Lease while leading; it stopped reconciling.
    #[error("leader election lost")]
    LeadershipLost,
    /// The stop signals could not be installed.
    #[error("failed to install the signal handlers")]
    Signals(#[source] std::io::Error),
}

/// A future resolving on the first SIGTERM or SIGINT.
fn stop_signal() -> Result<impl Future<Output = &'static str>, std::io::Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// Runs the controller process until a stop signal (Ok) or lost leadership (Err).
///
/// `config.run.shutdown` is replaced: the manager decides when the reconcilers stop.
///
/// # Errors
/// See [`ManagerError`].
pub async fn run(
    client: kube::Client,
    mut config: ControllerConfig,
    options: ManagerOptions,
) -> Result<(), ManagerError> {
    let synced = config.run.synced.clone();
    let health = Health::new(move || synced.all());
    let (bound, probe_server) = probes::serve(options.health_addr, health.clone()).await?;
    tracing::info!(addr = %bound, "health probes listening");
    let probe_task = tokio::spawn(probe_server);
    let result = lead(client, &mut config, &options, &health).await;
    health.set(Phase::ShuttingDown);
    probe_task.abort();
    result
}

async fn lead(
    client: kube::Client,
    config: &mut ControllerConfig,
    options: &ManagerOptions,
    health: &Arc<Health>,
) -> Result<(), ManagerError> {
    let signal = stop_signal().map_err(ManagerError::Signals)?;
    tokio::pin!(signal);

    // Stand by until this replica leads (or is told to stop first).
    let mut elector = options
        .leader_election
        .clone()
        .map(|c| Elector::new(client.clone(), c));
    if let Some(elector) = elector.as_mut() {
        let cfg = elector.config().clone();
        tracing::info!(lease = %format!("{}/{}", cfg.namespace, cfg.name), identity = %cfg.identity, "attempting to acquire the leader lease");
        let mut last_holder = String::new();
        let acquire = elector.acquire(|holder| {
            if holder != last_holder {
                tracing::info!(%holder, "standing by: another replica holds the leader lease");
                last_holder = holder.to_string();
            }
            health.set(Phase::Standby {
                holder: holder.to_string(),
            });
        });
        tokio::select! {
            () = acquire => tracing::info!(identity = %cfg.identity, "successfully acquired the leader lease"),
            name = &mut signal => {
                tracing::info!(signal = name, "stopping before leading");
                return Ok(());
            }
        }
    }
    health.set(Phase::Leading);

    // Lead: reconcile until a signal or a lost Lease stops it.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    config.run.shutdown = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    }
    .boxed()
    .shared();
    let controller = keelson_controller::run(client, config.clone());
    tokio::pin!(controller);
    // The Lease is renewed while running reconciles finish (a successor must not start
    // before they do); the renewing future borrows the elector, so it lives in this block.
    let lost = {
        let renew = async {
            match elector.as_mut() {
                Some(e) => e.renew_until_lost().await,
                None => futures::future::pending().await,
            }
        };
        tokio::pin!(renew);
        let lost = tokio::select! {
            result = &mut controller => return result.map_err(ManagerError::from),
            name = &mut signal => {
                tracing::info!(signal = name, grace = ?options.grace_period, "shutting down: no new reconciles; waiting for running ones");
                false
            }
            () = &mut renew => true,
        };
        health.set(Phase::ShuttingDown);
        let _ = stop_tx.send(true);
        let finished = async {
            match tokio::time::timeout(options.grace_period, &mut controller).await {
                Ok(Ok(())) => tracing::info!("all reconciles finished"),
                Ok(Err(err)) => tracing::error!(%err, "the controller stopped with an error"),
                Err(_) => {
                    tracing::warn!(grace = ?options.grace_period, "running reconciles did not finish within the grace period")
                }
            }
        };
        if lost {
            finished.await;
            true
        } else {
            tokio::select! {
                () = finished => false,
                () = &mut renew => {
                    tracing::error!("lost the leader lease while shutting down");
                    true
                }
            }
        }
    };
    if lost {
        return Err(ManagerError::LeadershipLost);
    }
    if let Some(elector) = elector.as_mut() {
        match elector.release().await {
            Ok(()) => tracing::info!("released the leader lease"),
            Err(err) => tracing::warn!(%err, "failed to release the leader lease"),
        }
    }
    Ok(())
}
