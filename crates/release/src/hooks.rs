//! Running hooks as Helm does: the hooks of one event in weight order (then by name), each
//! created after its `before-hook-creation` predecessor is deleted, Jobs and Pods awaited until
//! they finish, and deleted afterwards when their delete policy says so (`hook-succeeded`,
//! `hook-failed`). A hook without a delete policy gets `before-hook-creation`, Helm's default.

use std::time::Duration;

use keelson_apply::ApplyOptions;
use keelson_manifest::ObjectId;
use serde_json::Value;

use crate::action::{ActionError, Engine, Request, now_rfc3339};
use crate::model::Release;

/// A hook is recreated only after its previous instance is gone.
pub const BEFORE_HOOK_CREATION: &str = "before-hook-creation";
/// Delete the hook once it succeeded.
pub const HOOK_SUCCEEDED: &str = "hook-succeeded";
/// Delete the hook once it failed.
pub const HOOK_FAILED: &str = "hook-failed";

enum Outcome {
    Succeeded,
    Failed(String),
}

impl Engine {
    /// Runs the hooks of `event` of `release`, recording each hook's last run in the release.
    pub async fn run_hooks(
        &self,
        release: &mut Release,
        event: &str,
        request: &Request,
        timeout: Duration,
    ) -> Result<(), ActionError> {
        let mut order: Vec<usize> = (0..release.hooks.len())
            .filter(|&i| release.hooks[i].events.iter().any(|e| e == event))
            .collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&release.hooks[a], &release.hooks[b]);
            (x.weight, &x.name).cmp(&(y.weight, &y.name))
        });
        for i in order {
            let hook = release.hooks[i].clone();
            let policies: Vec<String> = if hook.delete_policies.is_empty() {
                vec![BEFORE_HOOK_CREATION.to_string()]
            } else {
                hook.delete_policies.clone()
            };
            let err = |message: String| ActionError::Hook {
                event: event.to_string(),
                hook: format!("{}/{}", hook.kind, hook.name),
                message,
            };
            let object = keelson_manifest::parse_value(&hook.manifest)
                .map_err(|e| err(format!("invalid manifest: {e}")))?;
            let mut objects = self
                .prepare(vec![object], request, false)
                .await
                .map_err(|e| err(e.to_string()))?;
            let Some(object) = objects.pop() else {
                continue;
            };
            let id = ObjectId::of(&object);
            if policies.iter().any(|p| p == BEFORE_HOOK_CREATION) {
                self.delete_and_wait(&id, timeout)
                    .await
                    .map_err(|e| err(e.to_string()))?;
            }
            release.hooks[i].last_run.started_at = Some(now_rfc3339());
            release.hooks[i].last_run.phase = "Running".into();
            release.hooks[i].last_run.completed_at = None;
            let options = ApplyOptions {
                owner_labels: request.owner_labels.clone(),
                ..Default::default()
            };
            let outcome = match self.applier.apply(vec![object], &options).await {
                Ok(_) => self.await_hook(&id, timeout).await?,
                Err(e) => Outcome::Failed(e.to_string()),
            };
            release.hooks[i].last_run.completed_at = Some(now_rfc3339());
            match outcome {
                Outcome::Succeeded => {
                    release.hooks[i].last_run.phase = "Succeeded".into();
                    if policies.iter().any(|p| p == HOOK_SUCCEEDED) {
                        self.delete_and_wait(&id, timeout)
                            .await
                            .map_err(|e| err(e.to_string()))?;
                    }
                }
                Outcome::Failed(message) => {
                    release.hooks[i].last_run.phase = "Failed".into();
                    if policies.iter().any(|p| p == HOOK_FAILED) {
                        // The failure is what matters; a failed clean-up is only logged.
                        if let Err(e) = self.delete_and_wait(&id, timeout).await {
                            tracing::warn!(%e, hook = %id, "failed to delete failed hook");
                        }
                    }
                    return Err(err(message));
                }
            }
        }
        Ok(())
    }

    /// Waits until a Job completes or a Pod succeeds; other kinds are done once created.
    async fn await_hook(&self, id: &ObjectId, timeout: Duration) -> Result<Outcome, ActionError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let live = self
                .applier
                .get(id)
                .await
                .map_err(|e| ActionError::apply(format!("reading hook {id}"), e))?;
            let Some(live) = live else {
                return Ok(Outcome::Failed(format!("{id} disappeared")));
            };
            let live = serde_json::to_value(&live).unwrap_or(Value::Null);
            match hook_state(&live) {
                Some(outcome) => return Ok(outcome),
                None if tokio::time::Instant::now() >= deadline => {
                    return Ok(Outcome::Failed(format!(
                        "timed out waiting for {id} after {timeout:?}"
                    )));
                }
                None => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

/// Whether a hook object has finished: Jobs by their Complete/Failed conditions, Pods by phase.
fn hook_state(live: &Value) -> Option<Outcome> {
    let condition = |type_: &str| {
        live["status"]["conditions"].as_array().and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == type_ && c["status"] == "True")
        })
    };
    match live["kind"].as_str().unwrap_or_default() {
        "Job" => {
            if condition("Complete").is_some() {
                Some(Outcome::Succeeded)
            } else {
                condition("Failed").map(|c| {
                    Outcome::Failed(format!(
                        "job {} failed: {}",
                        live["metadata"]["name"].as_str().unwrap_or_default(),
                        c["reason"].as_str().unwrap_or("BackoffLimitExceeded")
                    ))
                })
            }
        }
        "Pod" => match live["status"]["phase"].as_str() {
            Some("Succeeded") => Some(Outcome::Succeeded),
            Some("Failed") => Some(Outcome::Failed(format!(
                "pod {} failed",
                live["metadata"]["name"].as_str().unwrap_or_default()
            ))),
            _ => None,
        },
        _ => Some(Outcome::Succeeded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jobs_and_pods_finish_by_status() {
        let running = json!({"kind": "Job", "status": {}});
        assert!(hook_state(&running).is_none());
        let done = json!({"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert!(matches!(hook_state(&done), Some(Outcome::Succeeded)));
        let failed = json!({"kind": "Job", "metadata": {"name": "j"}, "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}});
        assert!(
            matches!(hook_state(&failed), Some(Outcome::Failed(m)) if m == "job j failed: DeadlineExceeded")
        );
        let cm = json!({"kind": "ConfigMap"});
        assert!(matches!(hook_state(&cm), Some(Outcome::Succeeded)));
    }
}
