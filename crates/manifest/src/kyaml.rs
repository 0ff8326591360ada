//! What kustomize's YAML layer (kyaml) does to values: integral floats become integers, and
//! folded block scalars (`>`) change — this follows kyaml, NOT the YAML spec.
//!
//! kustomize writes every resource back to YAML and reads it again (kyaml's
//! `RNode.MarshalJSON`), keeping each scalar's style. go-yaml v3's folded-scalar writer decides
//! whether a line break must be written as an empty line by looking at the start of the whole
//! value instead of at the line that follows (it indexes from 0 where libyaml indexes from the
//! cursor). So a line break before a more-indented line gets an empty line it must not have, and
//! reading back keeps one line break too many (`a\n  b` becomes `a\n\n  b`); a value that starts
//! with a blank gets no empty lines at all, and its plain line breaks fold to spaces. Flux
//! applies what kustomize produces, so the engine reads resources the same way.

use saphyr_parser::{Event, Parser};
use serde_json::{Number, Value};

/// Turns every float with an integral value that reads back as an integer into that integer,
/// as kustomize's output does (`1.0` → `1`, `0.0` → `0`, `1e19` → `10000000000000000000`; `1e20`
/// and `1.5` stay floats). kustomize passes each resource through JSON: Go's encoding/json prints
/// an integral float64 below 1e21 without a fraction or exponent, and that reads back as an
/// int64 or uint64 when it fits one.
pub fn kyaml_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(i) = n.as_f64().and_then(integral) {
                *n = i;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(kyaml_numbers),
        Value::Object(map) => map.values_mut().for_each(kyaml_numbers),
        _ => {}
    }
}

/// The integer an integral float reads back as, if it fits int64 or uint64: the shortest
/// decimal digits of the float, as Go prints them (Rust's `Display` prints the same), so
/// 2^63 reads back as 9223372036854776000.
fn integral(f: f64) -> Option<Number> {
    if !f.is_finite() || f.trunc() != f || f.abs() >= 1e21 {
        return None;
    }
    let text = f.to_string();
    if let Ok(i) = text.parse::<i64>() {
        Some(Number::from(i))
    } else {
        text.parse::<u64>().ok().map(Number::from)
    }
}

/// Makes every number a float, as kustomize's JSON 6902 patching leaves the objects it patches
/// (it decodes them with Go's encoding/json into `interface{}`): big integers lose precision
/// (9223372036854775807 becomes 9223372036854776000 once [`kyaml_numbers`] runs).
pub fn json_float_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_f64() => {
            if let Some(f) = n.as_f64().and_then(Number::from_f64) {
                *n = f;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json_float_numbers),
        Value::Object(map) => map.values_mut().for_each(json_float_numbers),
        _ => {}
    }
}

/// The value a folded scalar holds after kyaml's write-and-read-back. `value` is what the YAML
/// spec reads from the source.
pub fn kyaml_folded(value: &str) -> String {
    if value.is_empty() || !block_style_allowed(value) {
        // go-yaml writes it double-quoted: nothing changes.
        return value.to_string();
    }
    let text = write_folded(value);
    read_back(&text).unwrap_or_else(|| value.to_string())
}

/// go-yaml's `yaml_emitter_analyze_scalar`: a block scalar cannot hold a space before a line
/// break, a trailing space or a character go-yaml deems unprintable (control characters, and
/// everything outside the Basic Multilingual Plane); the tab is accepted.
fn block_style_allowed(value: &str) -> bool {
    let mut previous_space = false;
    for c in value.chars() {
        let printable = matches!(c, '\t' | '\n' | ' '..='~' | '\u{a0}'..='\u{d7ff}')
            || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}');
        if !printable {
            return false;
        }
        if c == '\n' && previous_space {
            return false;
        }
        previous_space = c == ' ';
    }
    !value.ends_with(' ')
}

/// go-yaml v3's `yaml_emitter_write_folded_scalar` (with its indexing slip), under a `k:` key
/// with two-space indentation as kyaml writes.
fn write_folded(value: &str) -> String {
    let mut out = String::from("k: >");
    if value.starts_with([' ', '\n']) {
        out.push('2');
    }
    let mut rev = value.chars().rev();
    match (rev.next(), rev.next()) {
        (Some(last), _) if last != '\n' => out.push('-'),
        (Some('\n'), None) | (Some('\n'), Some('\n')) => out.push('+'),
        _ => {}
    }
    out.push('\n');
    // The slip: "is the next line blank?" is asked of the value's first non-break character.
    let extra_break = !value.trim_start_matches('\n').starts_with([' ', '\t'])
        && !value.trim_start_matches('\n').is_empty();
    let mut breaks = true;
    let mut leading_spaces = true;
    for c in value.chars() {
        if c == '\n' {
            if !breaks && !leading_spaces && extra_break {
                out.push('\n');
            }
            out.push('\n');
            breaks = true;
        } else {
            if breaks {
                out.push_str("  ");
                leading_spaces = c == ' ' || c == '\t';
            }
            out.push(c);
            breaks = false;
        }
    }
    out
}

/// Reads the scalar of `k: >…` back as go-yaml (and the YAML spec) folds it.
fn read_back(text: &str) -> Option<String> {
    let mut parser = Parser::new_from_str(text);
    let mut scalars = 0;
    while let Some(Ok((event, _))) = parser.next_event() {
        if let Event::Scalar(s, ..) = event {
            scalars += 1;
            if scalars == 2 {
                return Some(s.into_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{kyaml_folded, kyaml_numbers};
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers() {
        // What kustomize v5.8.2 prints for each (after the parser made it a float).
        let mut v = json!({"a": [1.0, 2.5, 1e-8, 0.0, -0.0], "b": {"c": 1234567.0, "d": 1e19,
            "e": 1e20, "f": -9.3e18, "g": -2.0, "h": 1e21}, "i": 7, "j": "1.0"});
        kyaml_numbers(&mut v);
        assert_eq!(
            v,
            json!({"a": [1, 2.5, 1e-8, 0, 0], "b": {"c": 1234567, "d": 10_000_000_000_000_000_000u64,
                "e": 1e20, "f": -9.3e18, "g": -2, "h": 1e21}, "i": 7, "j": "1.0"})
        );
        assert!(v["a"][0].is_i64() && v["b"]["e"].is_f64());
        let mut big = json!([
            9_223_372_036_854_775_807i64,
            12_345_678_901_234_567_890u64,
            3
        ]);
        super::json_float_numbers(&mut big);
        kyaml_numbers(&mut big);
        assert_eq!(
            big,
            json!([
                9_223_372_036_854_776_000u64,
                12_345_678_901_234_567_000u64,
                3
            ])
        );
    }

    // Each expectation is what kustomize v5.8.2 prints for the folded scalar whose spec value
    // is the input.
    #[test]
    fn folded_more_indented_lines_gain_a_line_break() {
        assert_eq!(kyaml_folded("a\n  b\nc\n"), "a\n\n  b\nc\n");
        assert_eq!(kyaml_folded("a\n\n  b\nc"), "a\n\n\n  b\nc");
        assert_eq!(kyaml_folded("a\n  b\n\nc"), "a\n\n  b\n\nc");
        assert_eq!(kyaml_folded("a\n  b\n\n  c"), "a\n\n  b\n\n  c");
        assert_eq!(kyaml_folded("a\n\tb\nc"), "a\n\n\tb\nc");
        assert_eq!(kyaml_folded("a\n  b\n\n"), "a\n\n  b\n\n");
        assert_eq!(kyaml_folded("\na\n  b"), "\na\n\n  b");
        assert_eq!(
            kyaml_folded("[\n  {\n    \"k\": 1\n  }\n]"),
            "[\n\n  {\n    \"k\": 1\n  }\n]"
        );
    }

    #[test]
    fn folded_starting_with_a_blank_loses_its_line_breaks() {
        assert_eq!(kyaml_folded("  x\ny\nz"), "  x\ny z");
    }

    #[test]
    fn folded_written_double_quoted_is_unchanged() {
        // A space before a line break, or a character outside the BMP: go-yaml double-quotes.
        assert_eq!(kyaml_folded("a\n  b \nc"), "a\n  b \nc");
        assert_eq!(kyaml_folded("a \u{1f642}\n  b\nc"), "a \u{1f642}\n  b\nc");
        // Without more-indented lines the value reads back as it was.
        assert_eq!(kyaml_folded("a b\nc\n"), "a b\nc\n");
        assert_eq!(kyaml_folded("a \u{e9}\n  b"), "a \u{e9}\n\n  b");
    }
}
