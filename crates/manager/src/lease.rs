//! Leader election with a `coordination.k8s.io/v1` Lease, with the semantics of client-go's
//! `leaderelection` package that Flux's controllers use (through controller-runtime):
//!
//! - A candidate tries to acquire or renew every `retry_period`. It may take the Lease when no
//!   one holds it, when it holds it itself, or when the record it last observed has not changed
//!   for `lease_duration` — measured on this process's own monotonic clock from the moment it
//!   observed the record, so the clocks of different machines never need to agree.
//! - The leader renews every `retry_period`; when no renewal succeeds within `renew_deadline`
//!   it has lost the Lease and must stop (controller-runtime exits the process).
//! - On shutdown the leader releases the Lease (holder cleared, duration 1 s) so a standby takes
//!   over at once instead of after `lease_duration`.
//!
//! Updates are optimistic (`replace` with the observed `resourceVersion`), so two candidates
//! can never both believe they acquired the same record.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;

/// Flux's defaults: `--leader-election-lease-duration=35s`, `--leader-election-renew-deadline=30s`,
/// `--leader-election-retry-period=5s`.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(35);
/// See [`DEFAULT_LEASE_DURATION`].
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(30);
/// See [`DEFAULT_LEASE_DURATION`].
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(5);

/// What a candidate needs to know.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The Lease's name (keelson: `keelson-leader-election`).
    pub name: String,
    /// The Lease's namespace (the controller's own).
    pub namespace: String,
    /// This candidate's identity, unique among replicas (`<hostname>_<uuid>`, as client-go).
    pub identity: String,
    /// How long a standby waits on an unchanged record before it may take the Lease.
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a failing renewal before it gives up.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews.
    pub retry_period: Duration,
}

/// Why a leader election setting is refused.
#[derive(Debug, thiserror::Error)]
pub enum LeaseConfigError {
    /// client-go's own rules: leaseDuration > renewDeadline > retryPeriod × 1.2 (its jitter).
    #[error(
        "leader election: the lease duration ({lease:?}) must be greater than the renew deadline ({renew:?}), and the renew deadline greater than 1.2 × the retry period ({retry:?})"
    )]
    Durations {
        /// `--leader-election-lease-duration`.
        lease: Duration,
        /// `--leader-election-renew-deadline`.
        renew: Duration,
        /// `--leader-election-retry-period`.
        retry: Duration,
    },
}

impl LeaseConfig {
    /// Checks the durations as client-go does.
    ///
    /// # Errors
    /// When they would let two leaders overlap or never renew in time.
    pub fn validate(&self) -> Result<(), LeaseConfigError> {
        let retry_jittered = self.retry_period.mul_f64(1.2);
        if self.lease_duration <= self.renew_deadline || self.renew_deadline <= retry_jittered {
            return Err(LeaseConfigError::Durations {
                lease: self.lease_duration,
                renew: self.renew_deadline,
                retry: self.retry_period,
            });
        }
        Ok(())
    }
}

/// A new identity: `<hostname>_<uuid>`, as client-go builds it (the Pod's name is its hostname).
/// `HOSTNAME`, which the kubelet sets to the Pod's name, comes before the kernel's hostname so
/// replicas sharing a host (and tests) can be told apart.
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "keelson".to_string());
    format!("{host}_{}", uuid::Uuid::new_v4())
}

/// The holder fields of a Lease that decide who leads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Record {
    holder: String,
    duration_seconds: i32,
    acquire_time: Option<Timestamp>,
    renew_time: Option<Timestamp>,
    transitions: i32,
}

impl Record {
    fn of(spec: Option<&LeaseSpec>) -> Self {
        let Some(spec) = spec else {
            return Self::default();
        };
        Self {
            holder: spec.holder_identity.clone().unwrap_or_default(),
            duration_seconds: spec.lease_duration_seconds.unwrap_or_default(),
            acquire_time: spec.acquire_time.as_ref().map(|t| t.0),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or_default(),
        }
    }

    fn spec(&self) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.holder.clone()).filter(|h| !h.is_empty()),
            lease_duration_seconds: Some(self.duration_seconds),
            acquire_time: self.acquire_time.map(MicroTime),
            renew_time: self.renew_time.map(MicroTime),
            lease_transitions: Some(self.transitions),
            ..LeaseSpec::default()
        }
    }
}

/// One candidate for the Lease.
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<(Record, Instant)>,
}

/// What one attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This candidate holds the Lease (acquired or renewed).
    Leading,
    /// Someone else holds it and it has not expired.
    Standby {
        /// The current holder's identity.
        holder: String,
    },
}

impl Elector {
    /// A candidate using `client` (which needs get/create/update on leases in the namespace).
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        }
    }

    /// The candidate's settings.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// Tries once to acquire or renew the Lease.
    ///
    /// # Errors
    /// When the API server cannot be read or written (a conflict with another candidate is
    /// not an error: it means the other one won, and the next attempt sees its record).
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let now = Timestamp::now();
        let duration_seconds =
            i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(lease) = self.api.get_opt(&self.config.name).await? else {
            let record = Record {
                holder: self.config.identity.clone(),
                duration_seconds,
                acquire_time: Some(now),
                renew_time: Some(now),
                transitions: 0,
            };
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(record.spec()),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.observed = Some((record, Instant::now()));
                    Ok(Attempt::Leading)
                }
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Standby {
                    holder: String::new(),
                }),
                Err(e) => Err(e),
            };
        };
        let current = Record::of(lease.spec.as_ref());
        if self.observed.as_ref().is_none_or(|(r, _)| *r != current) {
            self.observed = Some((current.clone(), Instant::now()));
        }
        let observed_at = self
            .observed
            .as_ref()
            .map_or_else(Instant::now, |(_, t)| *t);
        let mine = current.holder == self.config.identity;
        // The observed record's own duration decides expiry (the holder set it), as client-go.
        let held_for =
            Duration::from_secs(u64::try_from(current.duration_seconds.max(0)).unwrap_or(0));
        if !current.holder.is_empty() && !mine && observed_at.elapsed() < held_for {
            return Ok(Attempt::Standby {
                holder: current.holder,
            });
        }
        let record = if mine {
            Record {
                duration_seconds,
                renew_time: Some(now),
                ..current.clone()
            }
        } else {
            Record {
                holder: self.config.identity.clone(),
                duration_seconds,
                acquire_time: Some(now),
                renew_time: Some(now),
                transitions: current.transitions + 1,
            }
        };
        let mut updated = lease.clone();
        updated.spec = Some(record.spec());
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => {
                self.observed = Some((record, Instant::now()));
                Ok(Attempt::Leading)
            }
            // Someone else wrote the Lease since we read it: they acquired or renewed it.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Standby {
                holder: current.holder,
            }),
            Err(e) => Err(e),
        }
    }

    /// Tries every `retry_period` until this candidate leads; `on_standby` is told who holds
    /// the Lease meanwhile (for logs and readiness).
    pub async fn acquire(&mut self, mut on_standby: impl FnMut(&str)) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Leading) => return,
                Ok(Attempt::Standby { holder }) => on_standby(&holder),
                Err(err) => {
                    tracing::warn!(%err, lease = %self.config.name, "leader election: failed to read or write the Lease")
                }
            }
            tokio::time::sleep(jittered(self.config.retry_period)).await;
        }
    }

    /// Renews every `retry_period` while leading; returns when no renewal succeeded within
    /// `renew_deadline` (or another candidate took the Lease): leadership is lost.
    pub async fn renew_until_lost(&mut self) {
        let mut last_renewed = Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            let attempt = tokio::time::timeout(
                self.config
                    .renew_deadline
                    .saturating_sub(last_renewed.elapsed()),
                self.try_acquire_or_renew(),
            )
            .await;
            match attempt {
                Ok(Ok(Attempt::Leading)) => last_renewed = Instant::now(),
                Ok(Ok(Attempt::Standby { holder })) => {
                    tracing::error!(%holder, "leader election: the Lease was taken over");
                    return;
                }
                Ok(Err(err)) => tracing::warn!(%err, "leader election: failed to renew the Lease"),
                Err(_) => {}
            }
            if last_renewed.elapsed() >= self.config.renew_deadline {
                tracing::error!(
                    deadline = ?self.config.renew_deadline,
                    "leader election: no renewal succeeded within the renew deadline"
                );
                return;
            }
        }
    }

    /// Gives the Lease up if this candidate holds it: holder cleared, duration 1 s, so a
    /// standby takes over on its next attempt.
    ///
    /// # Errors
    /// When the API server cannot be read or written.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        let current = Record::of(lease.spec.as_ref());
        if current.holder != self.config.identity {
            return Ok(());
        }
        let now = Timestamp::now();
        let record = Record {
            holder: String::new(),
            duration_seconds: 1,
            acquire_time: Some(now),
            renew_time: Some(now),
            transitions: current.transitions,
        };
        let mut updated = lease.clone();
        updated.spec = Some(record.spec());
        self.api
            .replace(&self.config.name, &PostParams::default(), &updated)
            .await?;
        self.observed = Some((record, Instant::now()));
        Ok(())
    }
}

/// client-go waits `period × (1 + rand(0..1.2))` between acquire attempts so candidates spread.
fn jittered(period: Duration) -> Duration {
    let random = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
    period.mul_f64(1.0 + 1.2 * random)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn config(lease: u64, renew: u64, retry: u64) -> LeaseConfig {
        LeaseConfig {
            name: "l".into(),
            namespace: "n".into(),
            identity: "me".into(),
            lease_duration: Duration::from_secs(lease),
            renew_deadline: Duration::from_secs(renew),
            retry_period: Duration::from_secs(retry),
        }
    }

    #[test]
    fn durations_are_checked_as_client_go() {
        assert!(config(35, 30, 5).validate().is_ok());
        assert!(config(30, 30, 5).validate().is_err());
        assert!(config(35, 6, 5).validate().is_err());
    }

    #[test]
    fn a_record_round_trips_through_the_lease_spec() {
        let now = Timestamp::now();
        let record = Record {
            holder: "me".into(),
            duration_seconds: 35,
            acquire_time: Some(now),
            renew_time: Some(now),
            transitions: 3,
        };
        assert_eq!(Record::of(Some(&record.spec())), record);
        let released = Record {
            holder: String::new(),
            ..record
        };
        assert_eq!(released.spec().holder_identity, None);
    }
}
