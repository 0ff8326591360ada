//! Go-style durations (`1m30s`, `10m`, `1h`, `500ms`) as Flux writes them in specs.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as Go's `time.ParseDuration` accepts it, kept with its original text so
/// that it round-trips unchanged through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration {
    text: String,
    value: std::time::Duration,
}

/// The error for a string that is not a Go duration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {input:?}: {reason}")]
pub struct ParseDurationError {
    input: String,
    reason: &'static str,
}

impl Duration {
    /// A duration of `secs` seconds, written as Go would (`90s` → `1m30s`).
    pub fn from_secs(secs: u64) -> Self {
        let value = std::time::Duration::from_secs(secs);
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        let mut text = String::new();
        if h > 0 {
            text.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            text.push_str(&format!("{m}m"));
        }
        text.push_str(&format!("{s}s"));
        Self { text, value }
    }

    /// The duration as a [`std::time::Duration`].
    pub fn as_std(&self) -> std::time::Duration {
        self.value
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Duration {
    type Err = ParseDurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseDurationError {
            input: input.to_string(),
            reason,
        };
        let mut rest = input.trim();
        if rest.is_empty() {
            return Err(err("empty"));
        }
        if rest == "0" {
            return Ok(Self {
                text: input.to_string(),
                value: std::time::Duration::ZERO,
            });
        }
        if rest.starts_with('-') {
            return Err(err("negative durations are not allowed"));
        }
        rest = rest.strip_prefix('+').unwrap_or(rest);
        let mut nanos: f64 = 0.0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| err("missing unit"))?;
            if number_len == 0 {
                return Err(err("expected a number"));
            }
            let number: f64 = rest[..number_len].parse().map_err(|_| err("bad number"))?;
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(err("unknown unit (use ns, us, ms, s, m or h)")),
            };
            nanos += number * scale;
            rest = &rest[unit_len..];
        }
        Ok(Self {
            text: input.to_string(),
            value: std::time::Duration::from_nanos(nanos.round() as u64),
        })
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // The pattern Flux's CRDs use for durations.
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::Duration;

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("1m", 60_000),
            ("1m30s", 90_000),
            ("1h", 3_600_000),
            ("500ms", 500),
            ("1.5s", 1_500),
            ("2h45m", 9_900_000),
            ("0", 0),
        ];
        for (text, millis) in cases {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.as_std().as_millis(), millis, "{text}");
            assert_eq!(d.to_string(), text);
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for text in ["", "5", "1x", "-1s", "m", "1m 2s"] {
            assert!(
                text.parse::<Duration>().is_err(),
                "{text:?} should be rejected"
            );
        }
    }

    #[test]
    fn writes_seconds_like_go() {
        assert_eq!(Duration::from_secs(90).to_string(), "1m30s");
        assert_eq!(Duration::from_secs(3600).to_string(), "1h0m0s");
        assert_eq!(Duration::from_secs(5).to_string(), "5s");
    }
}
