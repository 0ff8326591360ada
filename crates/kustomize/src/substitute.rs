//! Flux's postBuild variable substitution (`${var}`, `${var:=default}`, `${var:-default}`,
//! `$${var}` to escape), as `fluxcd/pkg/kustomize` does it: [`substitute`] is strict (a variable
//! with no value and no default is an error), [`substitute_lenient`] reports such variables.

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
        let Some(len) = input[i + 2..].find('}') else {
            return Err(SubstituteError::Syntax {
                at: i,
                text: input[i..].chars().take(40).collect(),
            });
        };
        let body = &input[i + 2..i + 2 + len];
        let (name, default) = match body.find(":=").or_else(|| body.find(":-")) {
            Some(p) => (&body[..p], Some(&body[p + 2..])),
            None => (body, None),
        };
        if !valid_name(name) {
            return Err(SubstituteError::Syntax {
                at: i,
                text: format!("${{{body}}}"),
            });
        }
        let value = match (vars.get(name), default) {
            (Some(v), _) => v.as_str(),
            (None, Some(d)) => d,
            (None, None) if strict => return Err(SubstituteError::Unset(name.to_string())),
            (None, None) => {
                unset.push(name.to_string());
                ""
            }
        };
        out.push_str(&input[copied..i]);
        out.push_str(value);
        i += 2 + len + 1;
        copied = i;
    }
    out.push_str(&input[copied..]);
    Ok((out, unset))
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
