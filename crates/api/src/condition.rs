//! Status conditions as Flux writes them: the types, the reasons, and a helper that keeps
//! `lastTransitionTime` stable while a condition's status does not change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types.
pub mod types {
    /// The object is reconciled and its outcome is good.
    pub const READY: &str = "Ready";
    /// A reconcile is in progress.
    pub const RECONCILING: &str = "Reconciling";
    /// Reconciling cannot succeed without a change to the object or its inputs.
    pub const STALLED: &str = "Stalled";
    /// The applied objects passed their health checks.
    pub const HEALTHY: &str = "Healthy";
    /// A source's artifact is in storage.
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// Fetching a source failed.
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// Storing an artifact failed.
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// The stored artifact does not reflect the current spec.
    pub const ARTIFACT_OUTDATED: &str = "ArtifactOutdated";
    /// Building (pulling or packaging) a chart failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// keelson-specific: the spec sets fields that keelson accepts but does not act on yet.
    pub const UNSUPPORTED_FIELDS: &str = "UnsupportedFields";
}

/// Condition reasons (Flux's names, so `flux`-style tooling and alerts keep working).
pub mod reasons {
    /// The reconcile succeeded.
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// The reconcile failed.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// Work is in progress.
    pub const PROGRESSING: &str = "Progressing";
    /// Work is in progress after a failure, and will be retried.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// A dependency is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// The source artifact could not be fetched or is not ready.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// The kustomization could not be built.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Health checks failed or timed out.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// Pruning failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// Decryption failed.
    pub const DECRYPTION_FAILED: &str = "DecryptionFailed";
    /// The object is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// The operation succeeded (source-controller's generic reason).
    pub const SUCCEEDED: &str = "Succeeded";
    /// A git operation succeeded.
    pub const GIT_OPERATION_SUCCEEDED: &str = "GitOperationSucceeded";
    /// A git operation failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// Authentication to the source failed, or its Secret is unusable.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// The URL is invalid.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Writing to the artifact storage failed.
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// A new revision was fetched.
    pub const NEW_REVISION: &str = "NewRevision";
    /// The spec is invalid in a way retrying cannot fix.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The referenced dependency graph has a cycle.
    pub const DEPENDENCY_CYCLE: &str = "DependencyCycle";
    /// A CEL expression (healthCheckExprs, readyExpr) does not compile.
    pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";
    /// The spec asks for something keelson does not support.
    pub const UNSUPPORTED: &str = "Unsupported";
    /// A new artifact was stored (HelmRepository index, OCI artifact).
    pub const NEW_ARTIFACT: &str = "NewArtifact";
    /// A Helm repository index could not be fetched or parsed.
    pub const INDEXATION_FAILED: &str = "IndexationFailed";
    /// A chart was downloaded from a repository.
    pub const CHART_PULL_SUCCEEDED: &str = "ChartPullSucceeded";
    /// A chart could not be downloaded.
    pub const CHART_PULL_FAILED: &str = "ChartPullFailed";
    /// A chart was packaged from a source folder.
    pub const CHART_PACKAGE_SUCCEEDED: &str = "ChartPackageSucceeded";
    /// A chart could not be packaged (or its values files merged).
    pub const CHART_PACKAGE_FAILED: &str = "ChartPackageFailed";
    /// The chart name or version is not in the source.
    pub const INVALID_CHART_REFERENCE: &str = "InvalidChartReference";
    /// The chart's source has no artifact (yet), or does not exist.
    pub const NO_SOURCE_ARTIFACT: &str = "NoSourceArtifact";
    /// An OCI artifact could not be pulled.
    pub const OCI_PULL_FAILED: &str = "OCIArtifactPullFailed";
    /// The layer of an OCI artifact could not be selected, extracted or copied.
    pub const OCI_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
    /// Reading from the source failed (e.g. no OCI tag matches the semver range).
    pub const READ_OPERATION_FAILED: &str = "ReadOperationFailed";
}

/// Sets (adds or replaces) a condition of `type_`. `lastTransitionTime` changes only when the
/// status changes; `observedGeneration` is set to `generation`.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Time,
) {
    let status = if status { "True" } else { "False" }.to_string();
    let message = message.into();
    if let Some(existing) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if existing.status != status {
            existing.last_transition_time = now;
        }
        existing.status = status;
        existing.reason = reason.to_string();
        existing.message = message;
        existing.observed_generation = generation;
        return;
    }
    conditions.push(Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: now,
    });
    // Flux keeps Ready first; the order helps humans reading `kubectl get -o yaml`.
    conditions.sort_by_key(|c| order(&c.type_));
}

/// Removes the condition of `type_`, if any.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// The condition of `type_`, if present.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is present with status True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}

fn order(type_: &str) -> u8 {
    match type_ {
        types::READY => 0,
        types::RECONCILING => 1,
        types::STALLED => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            types::READY,
            false,
            reasons::PROGRESSING,
            "a",
            Some(1),
            at(10),
        );
        set(
            &mut conditions,
            types::READY,
            false,
            reasons::BUILD_FAILED,
            "b",
            Some(2),
            at(20),
        );
        assert_eq!(conditions[0].last_transition_time, at(10));
        assert_eq!(conditions[0].reason, reasons::BUILD_FAILED);
        set(
            &mut conditions,
            types::READY,
            true,
            reasons::RECONCILIATION_SUCCEEDED,
            "c",
            Some(2),
            at(30),
        );
        assert_eq!(conditions[0].last_transition_time, at(30));
        assert!(is_true(&conditions, types::READY));
    }

    #[test]
    fn ready_is_kept_first() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            types::HEALTHY,
            true,
            reasons::SUCCEEDED,
            "",
            None,
            at(1),
        );
        set(
            &mut conditions,
            types::READY,
            true,
            reasons::SUCCEEDED,
            "",
            None,
            at(1),
        );
        assert_eq!(conditions[0].type_, types::READY);
        remove(&mut conditions, types::READY);
        assert!(get(&conditions, types::READY).is_none());
    }
}
