//! Kubernetes Events (`events.k8s.io/v1`) as Flux records them: one Event per distinct message,
//! repeats of the same message folded into the Event's `series`.
//!
//! kube-runtime's `Recorder` folds every event with the same reason into one object and keeps
//! the first note, so a second `NewRevision` (a new commit) would only bump a counter on the
//! Event that names the old commit. This recorder keys on the note as well.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};

/// How long a repeated event is folded into the earlier one (kube-runtime uses 6 minutes).
const FOLD_WINDOW: Duration = Duration::from_secs(6 * 60);

/// What makes two events "the same" for folding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    namespace: String,
    kind: String,
    name: String,
    uid: String,
    warning: bool,
    reason: String,
    note: String,
}

#[derive(Debug, Clone)]
struct Seen {
    event: String,
    count: i32,
    last: Timestamp,
}

/// Publishes Events on behalf of one controller instance.
pub struct EventRecorder {
    client: kube::Client,
    controller: String,
    instance: String,
    seen: Mutex<HashMap<Key, Seen>>,
}

impl EventRecorder {
    /// A recorder reporting as `controller` (instance `instance`, or the controller name).
    pub fn new(client: kube::Client, controller: &str, instance: Option<String>) -> Self {
        Self {
            client,
            controller: controller.to_string(),
            instance: instance.unwrap_or_else(|| controller.to_string()),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records an Event about `regarding`; a repeat of the same reason and note within
    /// [`FOLD_WINDOW`] increments the earlier Event's series instead of creating another.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.clone().unwrap_or_default();
        let key = Key {
            namespace: namespace.clone(),
            kind: regarding.kind.clone().unwrap_or_default(),
            name: regarding.name.clone().unwrap_or_default(),
            uid: regarding.uid.clone().unwrap_or_default(),
            warning,
            reason: reason.to_string(),
            note: note.clone(),
        };
        let now = Timestamp::now();
        let window = k8s_openapi::jiff::SignedDuration::try_from(FOLD_WINDOW).unwrap_or_default();
        let previous = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.retain(|_, s| s.last + window > now);
            seen.get(&key).cloned()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Some(previous) = previous {
            let count = previous.count + 1;
            let patch = Event {
                series: Some(EventSeries {
                    count,
                    last_observed_time: MicroTime(now),
                }),
                ..Event::default()
            };
            match api
                .patch(
                    &previous.event,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {
                    self.remember(key, previous.event, count, now);
                    return Ok(());
                }
                // Deleted meanwhile (TTL, someone else): start a new one.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(err) => return Err(err),
            }
        }
        let name = format!("{}.{:x}", key.name, now.as_nanosecond().unsigned_abs());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            action: Some(action.to_string()),
            reason: Some(reason.to_string()),
            regarding: Some(regarding.clone()),
            note: Some(note),
            type_: Some(if warning { "Warning" } else { "Normal" }.to_string()),
            ..Event::default()
        };
        api.create(&PostParams::default(), &event).await?;
        self.remember(key, name, 1, now);
        Ok(())
    }

    fn remember(&self, key: Key, event: String, count: i32, last: Timestamp) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(key, Seen { event, count, last });
    }
}
