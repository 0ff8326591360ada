//! The error type of the sops crate. Messages never include secret values or key material.

use crate::cipher::CipherError;
use crate::keys::KeyError;
use crate::metadata::MetadataError;

/// Why a sops file could not be read, decrypted or encrypted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Context: the file (or document) the error happened in. Its message includes the inner
    /// error's, so the inner error is not repeated as a source.
    #[error("{file}: {error}")]
    InFile {
        /// The file name or description given by the caller.
        file: String,
        /// What went wrong.
        error: Box<Error>,
    },
    /// The input does not parse in its format.
    #[error("failed to parse {format}: {message}")]
    Parse {
        /// The format name (`yaml`, `json`, …).
        format: &'static str,
        /// The parser's message (with its line where known).
        message: String,
    },
    /// The sops metadata is missing or malformed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The file can only be decrypted with key types keelson does not support.
    #[error(
        "the data key is encrypted only with {keys}, which keelson does not support (only age is); re-encrypt the file with an age recipient"
    )]
    UnsupportedKeys {
        /// The key types and identifiers found, e.g. `pgp 35C1…`.
        keys: String,
    },
    /// No age identities were given.
    #[error("no age identities were given; the file is encrypted to {recipients}")]
    NoIdentities {
        /// The recipients the file is encrypted to.
        recipients: String,
    },
    /// None of the given identities can decrypt the data key.
    #[error(
        "none of the {count} age identities given can decrypt the data key (the file is encrypted to {recipients})"
    )]
    NoMatchingKey {
        /// How many identities were tried.
        count: usize,
        /// The recipients the file is encrypted to.
        recipients: String,
    },
    /// Too few key groups could be decrypted for the Shamir threshold.
    #[error(
        "only {got} of the {need} key groups needed to recover the data key could be decrypted"
    )]
    ShamirThreshold {
        /// Groups decrypted.
        got: usize,
        /// Groups needed.
        need: usize,
    },
    /// The Shamir shares do not combine.
    #[error("failed to combine the Shamir shares of the data key: {0}")]
    Shamir(&'static str),
    /// The recovered data key has the wrong length.
    #[error("the recovered data key has {0} bytes, expected 32")]
    DataKeyLength(usize),
    /// A value could not be encrypted or decrypted.
    #[error("failed to process the value at {path}: {source}")]
    Value {
        /// The key path of the value (`data.password`).
        path: String,
        /// The cause.
        #[source]
        source: CipherError,
    },
    /// A value that the rules say is encrypted is not an encrypted string.
    #[error("the value at {path} should be encrypted but is not an ENC[…] string")]
    NotEncrypted {
        /// The key path.
        path: String,
    },
    /// The stored MAC could not be decrypted.
    #[error("failed to decrypt the MAC: {0}")]
    Mac(#[source] CipherError),
    /// The MAC does not match the content: the file was tampered with.
    #[error(
        "MAC mismatch: the file's content does not match its integrity code (tampered or corrupted file)"
    )]
    MacMismatch,
    /// A rule regex does not compile.
    #[error("invalid {rule}: {message}")]
    Regex {
        /// The rule name.
        rule: &'static str,
        /// The regex error.
        message: String,
    },
    /// An age key problem.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The plaintext cannot be written in the requested format.
    #[error("failed to write {format}: {message}")]
    Emit {
        /// The format name.
        format: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The input to encrypt already holds sops metadata.
    #[error("the file is already encrypted with sops")]
    AlreadyEncrypted,
    /// The input to encrypt uses a key reserved for sops metadata.
    #[error("the key {0:?} is reserved for sops metadata")]
    ReservedKey(String),
    /// Encryption was asked without any recipient.
    #[error("no age recipients to encrypt to")]
    NoRecipients,
}

impl Error {
    /// Wraps the error with the file (or document) it happened in.
    pub fn in_file(self, file: impl Into<String>) -> Error {
        Error::InFile {
            file: file.into(),
            error: Box::new(self),
        }
    }
}
