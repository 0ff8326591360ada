//! Masterminds-style semantic version constraints, as Flux evaluates `spec.ref.semver`.
//!
//! Syntax (github.com/Masterminds/semver v3): constraints separated by `,` or spaces must all
//! hold; groups separated by `||` are alternatives. Operators: `=` (or none), `!=`, `>`, `<`,
//! `>=` (`=>`), `<=` (`=<`), `~` (patch-level changes), `^` (changes that keep the left-most
//! non-zero part), wildcards `x`/`X`/`*` in any part, and hyphen ranges `1.2 - 1.4.5`.
//! A version with a pre-release only satisfies a constraint that itself names a pre-release.
//! Versions are parsed leniently like Masterminds' `NewVersion`: an optional `v` prefix and
//! omitted minor/patch parts (`v1.2` is 1.2.0).

use std::fmt;

use semver::{BuildMetadata, Prerelease, Version};

/// A parse error in a constraint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid semver constraint {constraint:?}: {reason}")]
pub struct ConstraintError {
    /// The constraint as written.
    pub constraint: String,
    /// What is wrong.
    pub reason: String,
}

/// A parsed constraint: alternatives (`||`) of conjunctions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    source: String,
    groups: Vec<Vec<Term>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

/// One comparison: an operator and a possibly partial version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    op: Op,
    version: Version,
    /// How many of major/minor/patch were given as numbers (0 for `*`).
    given: u8,
    /// Whether a part was a wildcard or omitted ("dirty" in Masterminds).
    dirty: bool,
}

/// Parses a version the way Masterminds' `NewVersion` does (lenient): `v` prefix allowed, minor
/// and patch optional. Returns `None` for anything else.
pub fn parse_version(input: &str) -> Option<Version> {
    let (version, given) = parse_partial(input, false)?;
    // Wildcards are not allowed in versions, only in constraints.
    if given == 0 {
        return None;
    }
    Some(version)
}

/// Parses `[v]MAJOR[.MINOR[.PATCH]][-pre][+build]`; with `wildcards`, parts may be x/X/*.
/// Returns the version (missing/wildcard parts as 0) and how many parts were numbers before the
/// first wildcard or omission.
fn parse_partial(input: &str, wildcards: bool) -> Option<(Version, u8)> {
    let s = input.strip_prefix('v').unwrap_or(input);
    if s.is_empty() {
        return None;
    }
    let (core, build) = match s.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (s, None),
    };
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut nums = [0u64; 3];
    let mut given = 0u8;
    let mut wild = false;
    for (i, part) in parts.iter().enumerate() {
        if wildcards && matches!(*part, "x" | "X" | "*") {
            wild = true;
            continue;
        }
        if wild || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nums[i] = part.parse().ok()?;
        given += 1;
    }
    let pre = match pre {
        Some(p) => Prerelease::new(p).ok()?,
        None => Prerelease::EMPTY,
    };
    let build = match build {
        Some(b) => BuildMetadata::new(b).ok()?,
        None => BuildMetadata::EMPTY,
    };
    Some((
        Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
            build,
        },
        given,
    ))
}

impl Constraint {
    /// Parses a constraint such as `>=1.2 <2`, `~1.2`, `^1`, `1.2.x` or `1.0 || >=3`.
    pub fn parse(input: &str) -> Result<Self, ConstraintError> {
        let fail = |reason: String| ConstraintError {
            constraint: input.to_string(),
            reason,
        };
        let mut groups = Vec::new();
        for alternative in input.split("||") {
            let tokens = tokenize(alternative);
            if tokens.is_empty() {
                return Err(fail("empty constraint".to_string()));
            }
            let mut terms = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                // Hyphen range: A - B
                if i + 2 < tokens.len() && tokens[i + 1] == "-" {
                    let low = term(Op::Ge, &tokens[i]).map_err(&fail)?;
                    let high = term(Op::Le, &tokens[i + 2]).map_err(&fail)?;
                    terms.push(low);
                    terms.push(high);
                    i += 3;
                    continue;
                }
                terms.push(parse_term(&tokens[i]).map_err(&fail)?);
                i += 1;
            }
            groups.push(terms);
        }
        Ok(Self {
            source: input.to_string(),
            groups,
        })
    }

    /// Whether `version` satisfies the constraint.
    pub fn matches(&self, version: &Version) -> bool {
        self.groups
            .iter()
            .any(|terms| terms.iter().all(|t| t.matches(version)))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Splits on commas and whitespace, gluing an operator separated from its version by spaces
/// (`>= 1.2`) back together.
fn tokenize(input: &str) -> Vec<String> {
    let raw: Vec<&str> = input
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut pending_op: Option<&str> = None;
    for t in raw {
        if t != "-" && t.chars().all(|c| "=<>!~^".contains(c)) {
            pending_op = Some(t);
            continue;
        }
        match pending_op.take() {
            Some(op) => tokens.push(format!("{op}{t}")),
            None => tokens.push(t.to_string()),
        }
    }
    if let Some(op) = pending_op {
        tokens.push(op.to_string());
    }
    tokens
}

fn parse_term(token: &str) -> Result<Term, String> {
    let ops: [(&str, Op); 11] = [
        ("!=", Op::Ne),
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("~>", Op::Tilde),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    for (prefix, op) in ops {
        if let Some(rest) = token.strip_prefix(prefix) {
            return term(op, rest.trim());
        }
    }
    term(Op::Eq, token)
}

fn term(op: Op, version: &str) -> Result<Term, String> {
    let (parsed, given) =
        parse_partial(version, true).ok_or_else(|| format!("invalid version {version:?}"))?;
    Ok(Term {
        op,
        version: parsed,
        given,
        dirty: given < 3,
    })
}

/// The version with `part` (0 major, 1 minor, 2 patch) incremented and everything after it 0.
fn bump(v: &Version, part: u8) -> Version {
    match part {
        0 => Version::new(v.major.saturating_add(1), 0, 0),
        1 => Version::new(v.major, v.minor.saturating_add(1), 0),
        _ => Version::new(v.major, v.minor, v.patch.saturating_add(1)),
    }
}

/// Compares ignoring build metadata, as semver precedence does.
fn cmp(a: &Version, b: &Version) -> std::cmp::Ordering {
    a.cmp_precedence(b)
}

impl Term {
    fn matches(&self, v: &Version) -> bool {
        use std::cmp::Ordering::*;
        // Masterminds: a pre-release version only matches a constraint naming a pre-release.
        if !v.pre.is_empty() && self.version.pre.is_empty() {
            return false;
        }
        let c = &self.version;
        match self.op {
            Op::Eq | Op::Ne => {
                let inside = if self.given == 0 {
                    true
                } else if self.dirty {
                    // 1.2 / 1.2.x means [1.2.0, 1.3.0); 1 means [1.0.0, 2.0.0)
                    cmp(v, c) != Less && cmp(v, &bump(c, self.given - 1)) == Less
                } else {
                    cmp(v, c) == Equal
                };
                (self.op == Op::Eq) == inside
            }
            Op::Gt => {
                if self.given == 0 {
                    false
                } else if self.dirty {
                    cmp(v, &bump(c, self.given - 1)) != Less
                } else {
                    cmp(v, c) == Greater
                }
            }
            Op::Ge => cmp(v, c) != Less,
            Op::Lt => self.given != 0 && cmp(v, c) == Less,
            Op::Le => {
                if self.given == 0 {
                    true
                } else if self.dirty {
                    cmp(v, &bump(c, self.given - 1)) == Less
                } else {
                    cmp(v, c) != Greater
                }
            }
            Op::Tilde => {
                if self.given == 0 {
                    return true;
                }
                // ~1 → <2.0.0; ~1.2 and ~1.2.3 → <1.3.0
                let upper = if self.given == 1 {
                    bump(c, 0)
                } else {
                    bump(c, 1)
                };
                cmp(v, c) != Less && cmp(v, &upper) == Less
            }
            Op::Caret => {
                if self.given == 0 {
                    return true;
                }
                let upper = if c.major > 0 || self.given == 1 {
                    bump(c, 0)
                } else if c.minor > 0 || self.given == 2 {
                    bump(c, 1)
                } else {
                    bump(c, 2)
                };
                cmp(v, c) != Less && cmp(v, &upper) == Less
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(constraint: &str, version: &str) -> bool {
        let c = Constraint::parse(constraint).unwrap();
        let v = parse_version(version).unwrap();
        c.matches(&v)
    }

    #[test]
    fn table() {
        // (constraint, version, expected) — cases from the Masterminds README semantics.
        let cases = [
            (">=1.2 <2", "1.2.0", true),
            (">=1.2 <2", "1.9.9", true),
            (">=1.2 <2", "2.0.0", false),
            (">=1.2 <2", "1.1.9", false),
            (">= 1.2, < 2", "1.5.0", true),
            ("~1.2", "1.2.9", true),
            ("~1.2", "1.3.0", false),
            ("~1.2.3", "1.2.2", false),
            ("~1", "1.9.0", true),
            ("~1", "2.0.0", false),
            ("^1", "1.9.0", true),
            ("^1", "2.0.0", false),
            ("^1.2.3", "1.2.2", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.4", false),
            ("^0", "0.9.0", true),
            ("^0", "1.0.0", false),
            ("1.2.x", "1.2.7", true),
            ("1.2.x", "1.3.0", false),
            ("1.2", "1.2.7", true),
            ("1.x", "1.9.0", true),
            ("*", "3.0.0", true),
            ("*", "3.0.0-rc.1", false),
            ("1.2.3", "1.2.3", true),
            ("=1.2.3", "1.2.4", false),
            ("!=1.2.3", "1.2.4", true),
            ("!=1.2.x", "1.2.4", false),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            (">1.2.3", "1.2.4", true),
            ("<=1.2", "1.2.9", true),
            ("<=1.2", "1.3.0", false),
            ("<1.2", "1.1.9", true),
            ("<1.2", "1.2.0", false),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2 - 1.4.5", "1.1.0", false),
            ("<1 || >=3", "0.5.0", true),
            ("<1 || >=3", "2.0.0", false),
            ("<1 || >=3", "3.1.0", true),
            (">=1.0.0", "1.1.0-alpha", false),
            (">=1.0.0-0", "1.1.0-alpha", true),
            ("v1.x", "v1.4.0", true),
        ];
        for (c, v, want) in cases {
            assert_eq!(check(c, v), want, "{c} vs {v}");
        }
    }

    #[test]
    fn lenient_versions() {
        assert_eq!(parse_version("v1.2"), Some(Version::new(1, 2, 0)));
        assert_eq!(parse_version("1"), Some(Version::new(1, 0, 0)));
        assert!(parse_version("latest").is_none());
        assert!(parse_version("1.2.3.4").is_none());
        assert!(parse_version("1.x").is_none());
    }

    #[test]
    fn invalid_constraints() {
        for bad in ["", ">=", "foo", "1.2 ||", ">=1.2.3.4"] {
            assert!(Constraint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
