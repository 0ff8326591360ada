//! Errors of applying, pruning and waiting.

use keelson_manifest::ObjectId;

/// A failure concerning one object.
#[derive(Debug, thiserror::Error)]
#[error("{id}: {message}")]
pub struct ObjectError {
    /// The object.
    pub id: ObjectId,
    /// What went wrong, as the apiserver said it.
    pub message: String,
}

/// The error of [`crate::Applier`] operations.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An object has no apiVersion, kind or name.
    #[error("failed to apply: object #{index} has no {field}")]
    Incomplete {
        /// Position of the object in the input.
        index: usize,
        /// The missing field.
        field: &'static str,
    },
    /// The same object appears twice in the input.
    #[error("failed to apply: {0} appears more than once")]
    Duplicate(Box<ObjectId>),
    /// The apiserver does not serve an object's kind.
    #[error(
        "failed to apply {id}: no kind {kind} is served by the cluster (is its CRD installed?)"
    )]
    UnknownKind {
        /// The object.
        id: Box<ObjectId>,
        /// `group/version, Kind=kind`.
        kind: String,
    },
    /// The dry-run of a stage rejected objects; nothing of the stage was applied.
    #[error("dry-run failed, nothing of this stage was applied:\n{}", list(.0))]
    DryRun(Vec<ObjectError>),
    /// Applying objects failed.
    #[error("apply failed:\n{}", list(.0))]
    Apply(Vec<ObjectError>),
    /// Deleting objects failed.
    #[error("prune failed:\n{}", list(.0))]
    Prune(Vec<ObjectError>),
    /// CRDs did not become Established in time.
    #[error("failed waiting for CRDs to be established: {0}")]
    CrdNotEstablished(String),
    /// A call to the apiserver failed.
    #[error("failed to talk to the apiserver while {context}")]
    Kube {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

fn list(errors: &[ObjectError]) -> String {
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}
