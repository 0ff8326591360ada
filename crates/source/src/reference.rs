//! Which commit to check out: Flux's `spec.ref` and the revision string it produces.
//!
//! Precedence (as Flux): `commit` > `name` > `semver` > `tag` > `branch`; with nothing set the
//! branch `master` is used (Flux's default). Revision strings as Flux writes them in
//! `status.artifact.revision`:
//!
//! | ref | revision |
//! |---|---|
//! | branch `main` | `main@sha1:<40 hex>` |
//! | tag `v1.2.3` | `v1.2.3@sha1:<hex>` (the commit the tag points to) |
//! | semver `>=1` | `v1.4.0@sha1:<hex>` (the tag that won) |
//! | name `refs/heads/x` | `refs/heads/x@sha1:<hex>` |
//! | commit with branch | `main@sha1:<hex>` |
//! | commit alone | `sha1:<hex>` |

use crate::semver::{Constraint, parse_version};

/// The reference to check out (Flux `GitRepositoryRef`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitReference {
    /// Branch name, for example `main`.
    pub branch: Option<String>,
    /// Tag name, for example `v1.2.3`.
    pub tag: Option<String>,
    /// Masterminds semver constraint evaluated against the repository's tags.
    pub semver: Option<String>,
    /// Full reference name, for example `refs/heads/main` or `refs/pull/1/head`.
    pub name: Option<String>,
    /// Full 40-hex commit SHA-1.
    pub commit: Option<String>,
}

/// The branch used when a [`GitReference`] sets nothing (Flux's default).
pub const DEFAULT_BRANCH: &str = "master";

/// What a [`GitReference`] means once precedence is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// A commit, optionally with the branch that holds it.
    Commit {
        /// The commit, lower-case hex.
        commit: String,
        /// The branch named beside it.
        branch: Option<String>,
    },
    /// A full reference name.
    Name(String),
    /// The highest tag matching a constraint.
    Semver(Constraint),
    /// A tag.
    Tag(String),
    /// A branch.
    Branch(String),
}

/// Why a reference is unusable as written (not retryable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// `spec.ref.commit` is not a full SHA-1.
    #[error("invalid commit {0:?}: expected 40 hexadecimal characters")]
    InvalidCommit(String),
    /// `spec.ref.name` is not a full reference.
    #[error("invalid reference name {0:?}: expected a full name starting with refs/")]
    InvalidName(String),
    /// `spec.ref.semver` does not parse.
    #[error(transparent)]
    InvalidSemver(#[from] crate::semver::ConstraintError),
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl GitReference {
    /// A reference to a branch.
    pub fn branch(name: impl Into<String>) -> Self {
        Self {
            branch: Some(name.into()),
            ..Self::default()
        }
    }

    /// Applies Flux's precedence and validates the chosen field.
    pub fn strategy(&self) -> Result<Strategy, ReferenceError> {
        if let Some(commit) = non_empty(&self.commit) {
            let commit = commit.to_ascii_lowercase();
            if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ReferenceError::InvalidCommit(commit));
            }
            return Ok(Strategy::Commit {
                commit,
                branch: non_empty(&self.branch).map(str::to_string),
            });
        }
        if let Some(name) = non_empty(&self.name) {
            if !name.starts_with("refs/") || name.ends_with('/') {
                return Err(ReferenceError::InvalidName(name.to_string()));
            }
            return Ok(Strategy::Name(name.to_string()));
        }
        if let Some(semver) = non_empty(&self.semver) {
            return Ok(Strategy::Semver(Constraint::parse(semver)?));
        }
        if let Some(tag) = non_empty(&self.tag) {
            return Ok(Strategy::Tag(tag.to_string()));
        }
        Ok(Strategy::Branch(
            non_empty(&self.branch)
                .unwrap_or(DEFAULT_BRANCH)
                .to_string(),
        ))
    }
}

/// The revision string Flux writes for `strategy` resolved to `commit` (40 hex), where `label` is
/// the tag chosen by a semver strategy.
pub fn revision(strategy: &Strategy, label: &str, commit: &str) -> String {
    match strategy {
        Strategy::Commit {
            branch: Some(branch),
            ..
        } => format!("{branch}@sha1:{commit}"),
        Strategy::Commit { branch: None, .. } => format!("sha1:{commit}"),
        Strategy::Name(name) => format!("{name}@sha1:{commit}"),
        Strategy::Semver(_) => format!("{label}@sha1:{commit}"),
        Strategy::Tag(tag) => format!("{tag}@sha1:{commit}"),
        Strategy::Branch(branch) => format!("{branch}@sha1:{commit}"),
    }
}

/// Picks the tag with the highest version matching `constraint` from `tags` (short names).
/// Tags that are not versions are ignored; among tags of equal precedence (`v1.0.0` and
/// `1.0.0`) the lexically greatest name wins, so the choice is deterministic.
pub fn select_semver<'a>(
    constraint: &Constraint,
    tags: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(semver::Version, &'a str)> = None;
    for tag in tags {
        let Some(version) = parse_version(tag) else {
            continue;
        };
        if !constraint.matches(&version) {
            continue;
        }
        let better = match &best {
            None => true,
            Some((v, name)) => match version.cmp_precedence(v) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => tag > *name,
                std::cmp::Ordering::Less => false,
            },
        };
        if better {
            best = Some((version, tag));
        }
    }
    best.map(|(_, tag)| tag)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const C: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn precedence_and_revisions() {
        let all = GitReference {
            branch: Some("main".into()),
            tag: Some("v1.0.0".into()),
            semver: Some(">=1".into()),
            name: Some("refs/heads/dev".into()),
            commit: Some(C.to_uppercase()),
        };
        let s = all.strategy().unwrap();
        assert_eq!(revision(&s, "", C), format!("main@sha1:{C}"));
        let mut r = all.clone();
        r.branch = None;
        assert_eq!(revision(&r.strategy().unwrap(), "", C), format!("sha1:{C}"));
        r.commit = None;
        assert_eq!(
            revision(&r.strategy().unwrap(), "", C),
            format!("refs/heads/dev@sha1:{C}")
        );
        r.name = None;
        assert_eq!(
            revision(&r.strategy().unwrap(), "v1.4.0", C),
            format!("v1.4.0@sha1:{C}")
        );
        r.semver = None;
        assert_eq!(
            revision(&r.strategy().unwrap(), "", C),
            format!("v1.0.0@sha1:{C}")
        );
        assert_eq!(
            GitReference::default().strategy().unwrap(),
            Strategy::Branch("master".into())
        );
    }

    #[test]
    fn invalid() {
        let bad_commit = GitReference {
            commit: Some("abc".into()),
            ..Default::default()
        };
        assert!(bad_commit.strategy().is_err());
        let bad_name = GitReference {
            name: Some("main".into()),
            ..Default::default()
        };
        assert!(bad_name.strategy().is_err());
    }

    #[test]
    fn semver_selection() {
        let c = Constraint::parse(">=1.0.0 <2.0.0").unwrap();
        let tags = [
            "v0.9.0",
            "v1.0.0",
            "1.10.0",
            "v1.9.0",
            "v2.0.0",
            "latest",
            "v1.11.0-rc.1",
        ];
        assert_eq!(select_semver(&c, tags), Some("1.10.0"));
        let none = Constraint::parse(">=5").unwrap();
        assert_eq!(select_semver(&none, tags), None);
    }
}
