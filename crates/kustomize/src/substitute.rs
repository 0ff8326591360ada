//! Flux's postBuild variable substitution, as `fluxcd/pkg/envsubst` (drone/envsubst) does it:
//! `${var}`, defaults `${var:-d}` `${var:=d}` `${var=d}` (all three also replace an empty
//! value), `$${var}` to escape, and the bash-style functions `${#var}`, `${var^}`
//! `${var^^}` `${var,}` `${var,,}`, `${var:pos}` `${var:pos:len}`, `${var#glob}` `${var##glob}`
//! `${var%glob}` `${var%%glob}`, `${var/from/to}` `${var//from/to}` `${var/#from/to}`
//! `${var/%from/to}`. [`substitute`] is strict (a variable with no value and no default is an
//! error), [`substitute_lenient`] reports such variables.

use std::collections::BTreeMap;

/// A substitution failure.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubstituteError {
    /// `${name}` has no value and no default.
    #[error("variable not set (strict mode): {0}")]
    Unset(String),
    /// A `${` without its closing brace, or an invalid variable name.
    #[error("bad substitution at byte {at}: {text:?}")]
    Syntax {
        /// Byte offset in the input.
        at: usize,
        /// The offending text.
        text: String,
    },
}

/// Replaces variables in `input` with values from `vars`.
///
/// # Errors
/// [`SubstituteError::Unset`] for the first variable with no value and no default, or
/// [`SubstituteError::Syntax`].
pub fn substitute(input: &str, vars: &BTreeMap<String, String>) -> Result<String, SubstituteError> {
    run(input, vars, true).map(|(out, _)| out)
}

/// Like [`substitute`], but a variable with no value and no default becomes the empty string
/// (Flux's default, non-strict mode); returns the output and the names of those variables, in
/// order of appearance.
///
/// # Errors
/// [`SubstituteError::Syntax`].
pub fn substitute_lenient(
    input: &str,
    vars: &BTreeMap<String, String>,
) -> Result<(String, Vec<String>), SubstituteError> {
    run(input, vars, false)
}

fn run(
    input: &str,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<(String, Vec<String>), SubstituteError> {
    let mut unset = Vec::new();
    let mut out = String::with_capacity(input.len());
    let bytes = input.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        // `$${...}` is an escaped `${...}`.
        if bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') {
            out.push_str(&input[copied..i]);
            out.push('$');
            i += 2;
            copied = i;
            continue;
        }
        if bytes.get(i + 1) != Some(&b'{') {
            i += 1;
            continue;
        }
        let Some(len) = closing_brace(&input[i + 2..]) else {
            return Err(SubstituteError::Syntax {
                at: i,
                text: input[i..].chars().take(40).collect(),
            });
        };
        let body = &input[i + 2..i + 2 + len];
        let syntax = || SubstituteError::Syntax {
            at: i,
            text: format!("${{{body}}}"),
        };
        let (name, op) = parse(body).ok_or_else(syntax)?;
        let value = match (vars.get(name), &op) {
            (Some(v), Op::Default(d)) if v.is_empty() => {
                expand_default(d, vars, strict, &mut unset)?
            }
            (Some(v), op) => op.apply(v).ok_or_else(syntax)?,
            (None, Op::Default(d)) => expand_default(d, vars, strict, &mut unset)?,
            (None, _) if strict => return Err(SubstituteError::Unset(name.to_string())),
            (None, op) => {
                unset.push(name.to_string());
                op.apply("").ok_or_else(syntax)?
            }
        };
        let value = value.as_str();
        out.push_str(&input[copied..i]);
        out.push_str(value);
        i += 2 + len + 1;
        copied = i;
    }
    out.push_str(&input[copied..]);
    Ok((out, unset))
}

/// A default is itself a template (`${CLAIM:=${APP}}`), expanded only when it is used.
fn expand_default(
    default: &str,
    vars: &BTreeMap<String, String>,
    strict: bool,
    unset: &mut Vec<String>,
) -> Result<String, SubstituteError> {
    let (text, inner) = run(default, vars, strict)?;
    unset.extend(inner);
    Ok(text)
}

/// The length of the body of a `${...}` whose `${` precedes `text`: up to its closing brace,
/// past the `${...}` nested in it (envsubst parses a default as a template of its own).
fn closing_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// What a `${...}` does with its variable's value.
#[derive(Debug, PartialEq, Eq)]
enum Op<'a> {
    Plain,
    Default(&'a str),
    Length,
    UpperFirst,
    UpperAll,
    LowerFirst,
    LowerAll,
    Substring(&'a str, Option<&'a str>),
    TrimPrefix {
        glob: &'a str,
        longest: bool,
    },
    TrimSuffix {
        glob: &'a str,
        longest: bool,
    },
    Replace {
        from: &'a str,
        to: &'a str,
        how: Replace,
    },
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Replace {
    First,
    All,
    Prefix,
    Suffix,
}

/// Splits the inside of `${...}` into the variable name and the operation; `None` when it is
/// not a form envsubst knows.
fn parse(body: &str) -> Option<(&str, Op<'_>)> {
    if let Some(name) = body.strip_prefix('#')
        && valid_name(name)
    {
        return Some((name, Op::Length));
    }
    let end = body
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(body.len(), |(i, _)| i);
    let (name, rest) = body.split_at(end);
    if !valid_name(name) {
        return None;
    }
    let op = if rest.is_empty() {
        Op::Plain
    } else if let Some(d) = rest.strip_prefix(":-").or_else(|| rest.strip_prefix(":=")) {
        Op::Default(d)
    } else if let Some(args) = rest.strip_prefix(':') {
        match args.split_once(':') {
            Some((pos, len)) => Op::Substring(pos, Some(len)),
            None => Op::Substring(args, None),
        }
    } else if let Some(d) = rest.strip_prefix('=') {
        // (`${var-default}` is not envsubst syntax: Flux refuses it.)
        Op::Default(d)
    } else if rest == "^^" {
        Op::UpperAll
    } else if rest == "^" {
        Op::UpperFirst
    } else if rest == ",," {
        Op::LowerAll
    } else if rest == "," {
        Op::LowerFirst
    } else if let Some(glob) = rest.strip_prefix("##") {
        Op::TrimPrefix {
            glob,
            longest: true,
        }
    } else if let Some(glob) = rest.strip_prefix('#') {
        Op::TrimPrefix {
            glob,
            longest: false,
        }
    } else if let Some(glob) = rest.strip_prefix("%%") {
        Op::TrimSuffix {
            glob,
            longest: true,
        }
    } else if let Some(glob) = rest.strip_prefix('%') {
        Op::TrimSuffix {
            glob,
            longest: false,
        }
    } else if let Some(args) = rest.strip_prefix('/') {
        let (how, args) = match args.chars().next() {
            Some('/') => (Replace::All, &args[1..]),
            Some('#') => (Replace::Prefix, &args[1..]),
            Some('%') => (Replace::Suffix, &args[1..]),
            _ => (Replace::First, args),
        };
        let (from, to) = args.split_once('/').unwrap_or((args, ""));
        Op::Replace { from, to, how }
    } else {
        return None;
    };
    Some((name, op))
}

impl Op<'_> {
    /// The operation applied to a value; `None` for a malformed glob.
    fn apply(&self, value: &str) -> Option<String> {
        let chars: Vec<char> = value.chars().collect();
        Some(match self {
            Op::Plain | Op::Default(_) => value.to_string(),
            Op::Length => chars.len().to_string(),
            Op::UpperAll => value.to_uppercase(),
            Op::LowerAll => value.to_lowercase(),
            Op::UpperFirst | Op::LowerFirst => match chars.split_first() {
                None => String::new(),
                Some((first, rest)) => {
                    let first: String = if *self == Op::UpperFirst {
                        first.to_uppercase().collect()
                    } else {
                        first.to_lowercase().collect()
                    };
                    first + &rest.iter().collect::<String>()
                }
            },
            Op::Substring(pos, len) => {
                // As envsubst: an offset that is not a number leaves the value as it is; a
                // negative length counts from the end.
                let Ok(pos) = pos.parse::<i64>() else {
                    return Some(value.to_string());
                };
                let n = chars.len() as i64;
                let start = pos.clamp(0, n);
                let end = match len.map(str::parse::<i64>) {
                    None => n,
                    Some(Err(_)) => return Some(value.to_string()),
                    Some(Ok(l)) if l < 0 => (n + l).max(start),
                    Some(Ok(l)) => (start + l).min(n),
                };
                chars[start as usize..end as usize].iter().collect()
            }
            // A malformed glob leaves the value as it is, as envsubst does.
            Op::TrimPrefix { glob, longest } => {
                trim_prefix(&chars, glob, *longest).unwrap_or_else(|| value.to_string())
            }
            Op::TrimSuffix { glob, longest } => {
                let reversed: Vec<char> = chars.iter().rev().copied().collect();
                let glob: String = glob.chars().rev().collect();
                match trim_prefix(&reversed, &glob, *longest) {
                    Some(trimmed) => trimmed.chars().rev().collect(),
                    None => value.to_string(),
                }
            }
            Op::Replace { from, to, how } => match how {
                Replace::First => value.replacen(from, to, 1),
                Replace::All if from.is_empty() => value.to_string(),
                Replace::All => value.replace(from, to),
                Replace::Prefix => match value.strip_prefix(from) {
                    Some(rest) => format!("{to}{rest}"),
                    None => value.to_string(),
                },
                Replace::Suffix => match value.strip_suffix(from) {
                    Some(rest) => format!("{rest}{to}"),
                    None => value.to_string(),
                },
            },
        })
    }
}

/// Removes the shortest (or longest) non-empty prefix of `chars` matching `glob`.
fn trim_prefix(chars: &[char], glob: &str, longest: bool) -> Option<String> {
    let glob: Vec<char> = glob.chars().collect();
    let mut cut = None;
    for len in (1..=chars.len()).rev() {
        if glob_match(&glob, &chars[..len])? {
            cut = Some(len);
            if longest {
                break;
            }
        }
    }
    Some(chars[cut.unwrap_or(0)..].iter().collect())
}

/// Go's `path.Match`: `*` any run of characters but `/`, `?` one such character, `[...]`
/// classes (`^` negates, `a-z` ranges), `\` escapes. `None` for a malformed pattern.
fn glob_match(glob: &[char], text: &[char]) -> Option<bool> {
    match glob.split_first() {
        None => Some(text.is_empty()),
        Some(('*', rest)) => {
            for skip in 0..=text.len() {
                if glob_match(rest, &text[skip..])? {
                    return Some(true);
                }
            }
            Some(false)
        }
        Some(('?', rest)) => match text.split_first() {
            Some((_, tail)) => glob_match(rest, tail),
            None => Some(false),
        },
        Some(('[', rest)) => {
            let close = rest.iter().skip(1).position(|c| *c == ']')? + 1;
            let (class, after) = (&rest[..close], &rest[close + 1..]);
            let (negated, class) = match class.split_first() {
                Some(('^', c)) => (true, c),
                _ => (false, class),
            };
            let Some((c, tail)) = text.split_first() else {
                return Some(false);
            };
            let mut hit = false;
            let mut k = 0;
            while k < class.len() {
                if class.get(k + 1) == Some(&'-') && k + 2 < class.len() {
                    hit |= (class[k]..=class[k + 2]).contains(c);
                    k += 3;
                } else {
                    hit |= class[k] == *c;
                    k += 1;
                }
            }
            if hit != negated {
                glob_match(after, tail)
            } else {
                Some(false)
            }
        }
        Some(('\\', rest)) => {
            let (lit, rest) = rest.split_first()?;
            match text.split_first() {
                Some((c, tail)) if c == lit => glob_match(rest, tail),
                _ => Some(false),
            }
        }
        Some((lit, rest)) => match text.split_first() {
            Some((c, tail)) if c == lit => glob_match(rest, tail),
            _ => Some(false),
        },
    }
}

/// Variable names as Flux accepts them: `^[_[:alpha:]][_[:alpha:][:digit:]]*$`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("env".into(), "prod".into()),
            ("replicas".into(), "3".into()),
        ])
    }

    #[test]
    fn substitutes_defaults_and_escapes() {
        let cases = [
            ("name: app-${env}", "name: app-prod"),
            ("replicas: ${replicas}", "replicas: 3"),
            ("region: ${region:=eu-west-1}", "region: eu-west-1"),
            ("region: ${region:-us}", "region: us"),
            ("env: ${env:=dev}", "env: prod"),
            ("literal: $${env}", "literal: ${env}"),
            ("price: $5 and $HOME", "price: $5 and $HOME"),
            ("empty default: '${x:=}'", "empty default: ''"),
            // A default is a template: nested variables and defaults expand when it is used.
            ("claim: ${claim:=${env}}", "claim: prod"),
            ("claim: ${claim:=${app:=x}-${env}}", "claim: x-prod"),
            ("claim: ${env:=${never}}", "claim: prod"),
        ];
        for (input, want) in cases {
            assert_eq!(substitute(input, &vars()).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn strict_mode_fails_on_unset_variables() {
        assert_eq!(
            substitute("a: ${missing}", &vars()),
            Err(SubstituteError::Unset("missing".into()))
        );
        assert_eq!(
            substitute_lenient("a: ${missing}-${env}-${other}", &vars()),
            Ok(("a: -prod-".into(), vec!["missing".into(), "other".into()]))
        );
        assert!(matches!(
            substitute("a: ${unterminated", &vars()),
            Err(SubstituteError::Syntax { .. })
        ));
        assert!(matches!(
            substitute("a: ${1bad}", &vars()),
            Err(SubstituteError::Syntax { .. })
        ));
    }
}
