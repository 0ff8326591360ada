//! Semantic versions and constraints with the rules of `Masterminds/semver` v3, as Sprig's
//! `semver`/`semverCompare` and Helm's dependency and `kubeVersion` checks use them.

use std::cmp::Ordering;

/// A parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Prerelease (without `-`), empty if none.
    pub pre: String,
    /// Build metadata (without `+`).
    pub meta: String,
    /// The text as given.
    pub original: String,
}

/// A version or constraint that could not be parsed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SemverError(pub String);

impl Version {
    /// Parses leniently like `semver.NewVersion`: optional `v`, missing minor/patch are 0.
    pub fn parse(s: &str) -> Result<Version, SemverError> {
        let orig = s;
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let (s, meta) = match s.split_once('+') {
            Some((a, b)) => (a, b.to_string()),
            None => (s, String::new()),
        };
        let (core, pre) = match s.split_once('-') {
            Some((a, b)) => (a, b.to_string()),
            None => (s, String::new()),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty()
            || parts.len() > 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
        {
            return Err(SemverError("Invalid Semantic Version".into()));
        }
        let num = |i: usize| {
            parts
                .get(i)
                .map_or(Ok(0), |p| p.parse::<u64>())
                .map_err(|_| SemverError("Invalid Semantic Version".into()))
        };
        Ok(Version {
            major: num(0)?,
            minor: num(1)?,
            patch: num(2)?,
            pre,
            meta,
            original: orig.to_string(),
        })
    }

    fn cmp_core(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| cmp_pre(&self.pre, &o.pre))
    }
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let pa: Vec<&str> = a.split('.').collect();
    let pb: Vec<&str> = b.split('.').collect();
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_core(other)
    }
}

#[derive(Debug, Clone)]
struct Constraint {
    op: String,
    v: Version,
    /// How many leading parts were given as numbers (1..=3); fewer means wildcard.
    given: usize,
}

fn parse_constraint_version(s: &str) -> Result<(Version, usize), SemverError> {
    let t = s.trim().strip_prefix('v').unwrap_or(s.trim());
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let mut nums = Vec::new();
    for p in &parts {
        if matches!(*p, "x" | "X" | "*") {
            break;
        }
        nums.push(
            p.parse::<u64>()
                .map_err(|_| SemverError(format!("improper constraint: {s}")))?,
        );
    }
    let given = nums.len();
    let text = format!(
        "{}.{}.{}{}",
        nums.first().copied().unwrap_or(0),
        nums.get(1).copied().unwrap_or(0),
        nums.get(2).copied().unwrap_or(0),
        rest
    );
    Ok((Version::parse(&text)?, given))
}

impl Constraint {
    fn matches(&self, v: &Version) -> bool {
        let c = &self.v;
        // versions with a prerelease only match constraints that have one
        if !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        let dirty = self.given < 3;
        match self.op.as_str() {
            "" | "=" => {
                if dirty {
                    return tilde(c, self.given, v);
                }
                v.cmp_core(c) == Ordering::Equal
            }
            "!=" => {
                if dirty {
                    return !tilde(c, self.given, v);
                }
                v.cmp_core(c) != Ordering::Equal
            }
            ">" => {
                if dirty {
                    return match self.given {
                        0 => false,
                        1 => v.major > c.major,
                        _ => v.major > c.major || (v.major == c.major && v.minor > c.minor),
                    };
                }
                v.cmp_core(c) == Ordering::Greater
            }
            "<" => v.cmp_core(c) == Ordering::Less,
            ">=" | "=>" => v.cmp_core(c) != Ordering::Less,
            "<=" | "=<" => {
                if dirty {
                    return match self.given {
                        0 => true,
                        1 => v.major <= c.major,
                        _ => v.major < c.major || (v.major == c.major && v.minor <= c.minor),
                    };
                }
                v.cmp_core(c) != Ordering::Greater
            }
            "~" | "~>" => tilde(c, self.given, v),
            "^" => {
                if v.cmp_core(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.given == 1 {
                    v.major == c.major
                } else if c.minor > 0 || self.given == 2 {
                    v.major == 0 && v.minor == c.minor
                } else {
                    v.major == 0 && v.minor == 0 && v.patch == c.patch
                }
            }
            _ => false,
        }
    }
}

fn tilde(c: &Version, given: usize, v: &Version) -> bool {
    if v.cmp_core(c) == Ordering::Less {
        return false;
    }
    match given {
        0 => true,
        1 => v.major == c.major,
        _ => v.major == c.major && v.minor == c.minor,
    }
}

/// A set of constraints: `||`-separated groups of comma/space-separated constraints.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<Vec<Constraint>>,
}

impl Constraints {
    /// Parses a constraint string such as `>=1.21-0`, `~1.2 || ^2`, `1.2 - 1.4`.
    pub fn parse(s: &str) -> Result<Constraints, SemverError> {
        let mut groups = Vec::new();
        for group in s.split("||") {
            let mut cs = Vec::new();
            // normalise "op version" → "opversion", split on commas and spaces
            let g = group.replace(',', " ");
            let toks: Vec<&str> = g.split_whitespace().collect();
            let mut i = 0;
            while i < toks.len() {
                let t = toks[i];
                if i + 2 < toks.len() && toks.get(i + 1) == Some(&"-") {
                    let (lo, lg) = parse_constraint_version(t)?;
                    let (hi, hg) =
                        parse_constraint_version(toks.get(i + 2).copied().unwrap_or(""))?;
                    cs.push(Constraint {
                        op: ">=".into(),
                        v: lo,
                        given: lg.max(3),
                    });
                    cs.push(Constraint {
                        op: "<=".into(),
                        v: hi,
                        given: hg,
                    });
                    i += 3;
                    continue;
                }
                let op_len = t
                    .bytes()
                    .take_while(|c| matches!(c, b'=' | b'<' | b'>' | b'!' | b'~' | b'^'))
                    .count();
                let (op, rest) = t.split_at(op_len);
                let (ver, adv) = if rest.is_empty() {
                    (toks.get(i + 1).copied().unwrap_or(""), 2)
                } else {
                    (rest, 1)
                };
                let (v, given) = parse_constraint_version(ver)?;
                cs.push(Constraint {
                    op: op.to_string(),
                    v,
                    given,
                });
                i += adv;
            }
            if cs.is_empty() {
                return Err(SemverError(format!("improper constraint: {s}")));
            }
            groups.push(cs);
        }
        Ok(Constraints { groups })
    }

    /// True if `v` satisfies any group.
    pub fn matches(&self, v: &Version) -> bool {
        self.groups.iter().any(|g| g.iter().all(|c| c.matches(v)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(c: &str, v: &str) -> bool {
        Constraints::parse(c)
            .unwrap()
            .matches(&Version::parse(v).unwrap())
    }

    #[test]
    fn constraints() {
        assert!(m(">=1.21-0", "v1.33.0"));
        assert!(!m("<1.21-0", "v1.33.0"));
        assert!(m(">= 1.19.0-0", "1.33.0"));
        assert!(m("~1.2.3", "1.2.9"));
        assert!(!m("~1.2.3", "1.3.0"));
        assert!(m("^1.2", "1.9.0"));
        assert!(!m("^1.2", "2.0.0"));
        assert!(m("1.x", "1.4.0"));
        assert!(m(">1.2 <2 || =3.0.0", "3.0.0"));
        assert!(!m(">=1.2.0", "1.3.0-beta"));
        assert!(m("1.2 - 1.4.5", "1.4.5"));
        assert!(m("2.x.x", "2.31.4"));
    }
}
