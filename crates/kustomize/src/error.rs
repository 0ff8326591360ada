//! The errors of a build.

use std::path::PathBuf;

/// Why a kustomization could not be built. Every variant names the file or directory at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("failed to read {path}: {source}")]
    Io {
        /// The path that could not be read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid YAML.
    #[error("failed to parse {path}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's error (with document and line).
        #[source]
        source: keelson_manifest::ParseError,
    },
    /// A directory used as a kustomization has no kustomization file.
    #[error(
        "failed to build {dir}: no kustomization.yaml, kustomization.yml or Kustomization in it"
    )]
    NoKustomization {
        /// The directory.
        dir: PathBuf,
    },
    /// A directory holds more than one kustomization file.
    #[error("failed to build {dir}: found multiple kustomization files")]
    MultipleKustomizations {
        /// The directory.
        dir: PathBuf,
    },
    /// A file or directory lies outside the kustomization root and the load restrictor forbids it.
    #[error(
        "failed to load {path}: security; file '{path}' is not in or below '{root}' (LoadRestrictionsRootOnly; LoadRestrictionsNone allows it)"
    )]
    OutsideRoot {
        /// The refused path.
        path: PathBuf,
        /// The root of the build.
        root: PathBuf,
    },
    /// A remote resource (URL or git repository): the engine works offline.
    #[error(
        "failed to load {resource:?} in {path}: remote resources are not supported (offline engine)"
    )]
    Remote {
        /// The kustomization file naming it.
        path: PathBuf,
        /// The remote reference.
        resource: String,
    },
    /// A kustomization includes itself, directly or through others.
    #[error("failed to build {dir}: cycle in kustomization references")]
    Cycle {
        /// The directory reached a second time.
        dir: PathBuf,
    },
    /// Invalid content: the message says what and where (document, field).
    #[error("failed to build {path}: {message}")]
    Invalid {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// An [`Error::Invalid`] for `path`.
    pub fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}
