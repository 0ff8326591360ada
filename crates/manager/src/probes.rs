//! The health endpoints kubelet probes (`--health-addr`, Flux's `:9440`): `/healthz` answers
//! while the process serves at all; `/readyz` answers 200 once the controller can do its job —
//! its caches synced as leader, or standing by for the Lease — and 503 before, or while it
//! shuts down.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

/// Where the controller process is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Started, not yet leading or standing by.
    Starting,
    /// Another replica holds the Lease; this one waits to take over.
    Standby {
        /// The current holder.
        holder: String,
    },
    /// Reconciling (the leader, or the only replica without leader election).
    Leading,
    /// Stopping: no new work is taken.
    ShuttingDown,
}

/// What the probes report, shared with the process that updates it.
pub struct Health {
    phase: Mutex<Phase>,
    synced: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Health {
    /// Health whose readiness as leader is `synced()` (the reconcilers' caches).
    pub fn new(synced: impl Fn() -> bool + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            phase: Mutex::new(Phase::Starting),
            synced: Box::new(synced),
        })
    }

    /// Moves to `phase`.
    pub fn set(&self, phase: Phase) {
        if let Ok(mut p) = self.phase.lock() {
            *p = phase;
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase.lock().map_or(Phase::ShuttingDown, |p| p.clone())
    }

    /// Readiness, and why when not ready.
    pub fn ready(&self) -> Result<String, String> {
        match self.phase() {
            Phase::Starting => Err("starting".into()),
            Phase::ShuttingDown => Err("shutting down".into()),
            Phase::Standby { holder } => Ok(format!("standing by (leader: {holder})")),
            Phase::Leading if (self.synced)() => Ok("leading; caches synced".into()),
            Phase::Leading => Err("leading; caches not yet synced".into()),
        }
    }
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

/// The probe routes over `health`.
pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(health)
}

async fn readyz(State(health): State<Arc<Health>>) -> (StatusCode, String) {
    match health.ready() {
        Ok(why) => (StatusCode::OK, why),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

/// Why the probe server could not start.
#[derive(Debug, thiserror::Error)]
#[error("failed to listen on {addr} for the health probes")]
pub struct ListenError {
    /// The address.
    pub addr: SocketAddr,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Binds `addr` and serves the probes until the returned future is dropped; also returns the
/// bound address (for port 0).
///
/// # Errors
/// When `addr` cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
) -> Result<(SocketAddr, impl Future<Output = ()>), ListenError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError { addr, source })?;
    let bound = listener.local_addr().unwrap_or(addr);
    let server = async move {
        if let Err(err) = axum::serve(listener, router(health)).await {
            tracing::error!(%err, "health probe server stopped");
        }
    };
    Ok((bound, server))
}

/// Parses Flux's address flags: `:9440` (all interfaces), `127.0.0.1:9440`, `[::1]:9440`.
///
/// # Errors
/// When it is not an address with a port.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_string(),
    };
    full.parse()
        .map_err(|e| format!("invalid address {text:?} (want HOST:PORT or :PORT): {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn readiness_follows_the_phase_and_the_caches() {
        let synced = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = synced.clone();
        let health = Health::new(move || flag.load(std::sync::atomic::Ordering::SeqCst));
        assert!(health.ready().is_err());
        health.set(Phase::Standby {
            holder: "other".into(),
        });
        assert!(health.ready().is_ok());
        health.set(Phase::Leading);
        assert_eq!(health.ready(), Err("leading; caches not yet synced".into()));
        synced.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(health.ready().is_ok());
        health.set(Phase::ShuttingDown);
        assert!(health.ready().is_err());
    }

    #[test]
    fn flux_style_addresses_parse() {
        assert_eq!(
            parse_addr(":9440").unwrap(),
            "0.0.0.0:9440".parse().unwrap()
        );
        assert_eq!(parse_addr("127.0.0.1:0").unwrap().port(), 0);
        assert!(parse_addr("9440").is_err());
    }
}
