//! Plain-scalar resolution as go-yaml v3 does it (YAML 1.2 core schema plus go-yaml's
//! timestamps): what type a scalar written without quotes has.

use crate::tree::Value;

/// Resolves a plain scalar to its YAML 1.2 core-schema type, as go-yaml v3 does (timestamps
/// stay strings, as go-yaml returns them into `interface{}`).
pub fn resolve(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        if let Ok(f) = s.parse::<f64>()
            && s[1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'e' | b'E' | b'+' | b'-'))
        {
            return Value::Float(f);
        }
        return Value::Str(s.to_string());
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Value::Str(s.to_string());
    }
    if let Some(t) = parse_timestamp(s) {
        return Value::Time(t);
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Value::Int(i);
    }
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, r)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, r)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -magnitude } else { magnitude };
    i64::try_from(v).ok()
}

fn is_yaml_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Parses go-yaml's timestamp forms (`YYYY-M-D`, `YYYY-M-D[Tt]h:m:s[.f](Z|±hh:mm)`,
/// `YYYY-M-D h:m:s[.f]`) and returns the time as Go's RFC 3339 (nano) text, which is what sops
/// hashes, encrypts (type `time`) and prints.
pub fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        s[start..*i].parse().ok()
    };
    let expect = |i: &mut usize, c: u8| -> Option<()> { (b.get(*i) == Some(&c)).then(|| *i += 1) };
    let year = num(&mut i, 4, 4)?;
    expect(&mut i, b'-')?;
    let month = num(&mut i, 1, 2)?;
    expect(&mut i, b'-')?;
    let day = num(&mut i, 1, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if i == b.len() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let sep = *b.get(i)?;
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    i += 1;
    let hour = num(&mut i, 1, 2)?;
    expect(&mut i, b':')?;
    let min = num(&mut i, 1, 2)?;
    expect(&mut i, b':')?;
    let sec = num(&mut i, 1, 2)?;
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut frac = String::new();
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        frac = s[start..i].chars().take(9).collect::<String>();
        while frac.ends_with('0') {
            frac.pop();
        }
    }
    let zone = &s[i..];
    let zone = if sep == b' ' {
        if !zone.is_empty() {
            return None;
        }
        "Z".to_string()
    } else if zone == "Z" {
        "Z".to_string()
    } else {
        let z = zone.as_bytes();
        if z.len() != 6
            || !matches!(z[0], b'+' | b'-')
            || z[3] != b':'
            || !z[1..3].iter().chain(&z[4..6]).all(u8::is_ascii_digit)
        {
            return None;
        }
        if &zone[1..] == "00:00" {
            "Z".to_string()
        } else {
            zone.to_string()
        }
    };
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!("{date}T{hour:02}:{min:02}:{sec:02}{frac}{zone}"))
}
