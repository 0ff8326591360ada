//! Number and character constants as Go's `text/template` lexes, parses and types them.
//!
//! The lexer's `scanNumber` accepts a superset of Go literals (sign, base prefix, digits with
//! `_`, fraction, `e`/`p` exponent, `i`) and the parser decides with `strconv`: an integer when
//! `ParseInt(text, 0, 64)` succeeds, else a float when `ParseFloat` does — but a float without
//! `.eEpP` in its text is an "integer overflow" (`08`, `99999999999999999999`). The constant's
//! type is then chosen from its text (`idealConstant`): `float64` when the text has `.eEpP` and
//! is neither a hex integer nor a rune, else `int`.

use super::parse::Number;

/// Go's `isAlphaNumeric`: `_`, a Unicode letter or digit.
fn is_alnum_char(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// One scanned number: where it ends and whether it is a complex `a+bi` pair.
pub(super) struct Scanned {
    /// Byte offset just past the literal.
    pub end: usize,
    /// `1+2i`: a real and an imaginary part.
    pub complex: bool,
}

/// Go's `scanNumber` from `i`; `Err(end)` when the text up to `end` is a bad number.
fn scan_one(src: &str, mut i: usize) -> Result<usize, usize> {
    let b = src.as_bytes();
    let accept = |i: &mut usize, set: &[u8]| {
        if *i < b.len() && set.contains(&b[*i]) {
            *i += 1;
            true
        } else {
            false
        }
    };
    let accept_run = |i: &mut usize, set: &[u8]| {
        while *i < b.len() && set.contains(&b[*i]) {
            *i += 1;
        }
    };
    accept(&mut i, b"+-");
    let mut digits: &[u8] = b"0123456789_";
    if accept(&mut i, b"0") {
        if accept(&mut i, b"xX") {
            digits = b"0123456789abcdefABCDEF_";
        } else if accept(&mut i, b"oO") {
            digits = b"01234567_";
        } else if accept(&mut i, b"bB") {
            digits = b"01_";
        }
    }
    accept_run(&mut i, digits);
    if accept(&mut i, b".") {
        accept_run(&mut i, digits);
    }
    if digits.len() == 11 && accept(&mut i, b"eE") {
        accept(&mut i, b"+-");
        accept_run(&mut i, b"0123456789_");
    }
    if digits.len() == 23 && accept(&mut i, b"pP") {
        accept(&mut i, b"+-");
        accept_run(&mut i, b"0123456789_");
    }
    accept(&mut i, b"i");
    match src[i..].chars().next() {
        Some(c) if is_alnum_char(c) => Err(i + c.len_utf8()),
        _ => Ok(i),
    }
}

/// Go's `lexNumber` at `start`: the literal, or the text of the bad number.
pub(super) fn scan(src: &str, start: usize) -> Result<Scanned, String> {
    let end = scan_one(src, start).map_err(|e| src[start..e].to_string())?;
    if matches!(src.as_bytes().get(end), Some(b'+' | b'-')) {
        // a complex constant `1+2i`: no spaces, must end in `i`
        return match scan_one(src, end) {
            Ok(e) if src.as_bytes()[e - 1] == b'i' => Ok(Scanned {
                end: e,
                complex: true,
            }),
            Ok(e) | Err(e) => Err(src[start..e].to_string()),
        };
    }
    Ok(Scanned {
        end,
        complex: false,
    })
}

/// strconv's `underscoreOK`: `_` only between digits, or between a base prefix and a digit.
fn underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// `strconv.ParseUint(s, 0, 64)` (no sign accepted).
pub fn go_parse_uint0(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (base, digits) = if b[0] == b'0' {
        match b.get(1).map(|c| c | 0x20) {
            Some(b'b') if b.len() >= 3 => (2, &s[2..]),
            Some(b'o') if b.len() >= 3 => (8, &s[2..]),
            Some(b'x') if b.len() >= 3 => (16, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.bytes() {
        if c == b'_' {
            underscores = true;
            continue;
        }
        let d = (c as char).to_digit(base)?;
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    Some(n)
}

/// `strconv.ParseInt(s, 0, 64)`.
pub fn go_parse_int0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint0(body)?;
    if neg {
        if u > 1 << 63 {
            return None;
        }
        Some((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).ok()
    }
}

/// `strconv.ParseFloat(s, 64)`: Go float syntax (decimal and hex mantissas, `_` separators,
/// `inf`/`infinity`/`nan` in any case). An out-of-range value is an error, as in Go.
pub fn go_parse_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let sign = if neg { -1.0 } else { 1.0 };
    if lower == "inf" || lower == "infinity" {
        return Some(sign * f64::INFINITY);
    }
    if lower == "nan" && body.len() == s.len() {
        return Some(f64::NAN);
    }
    if body.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean = lower.replace('_', "");
    let f = if let Some(h) = clean.strip_prefix("0x") {
        parse_hex_float(h)?
    } else {
        // Go's decimal syntax: digits [. digits] [e [+-] digits], at least one mantissa digit
        let (mant, exp) = match clean.split_once('e') {
            Some((m, e)) => (m, Some(e)),
            None => (clean.as_str(), None),
        };
        let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
        if ip.is_empty() && fp.is_empty()
            || !ip.bytes().all(|c| c.is_ascii_digit())
            || !fp.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        if let Some(e) = exp {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
        }
        clean.parse::<f64>().ok()?
    };
    if f.is_infinite() {
        return None; // ErrRange
    }
    Some(sign * f)
}

/// A hex mantissa `h[.h]p[+-]d` (after `0x`); the `p` exponent is required.
fn parse_hex_float(h: &str) -> Option<f64> {
    let (mant, exp) = h.split_once('p')?;
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    let e = exp.strip_prefix('+').unwrap_or(exp);
    let (eneg, edigits) = match e.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, e),
    };
    if edigits.is_empty() || !edigits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut exp2: i64 = edigits.parse::<i64>().unwrap_or(i64::MAX / 2).min(100_000);
    if eneg {
        exp2 = -exp2;
    }
    // mantissa as an exact integer of at most 64 significant bits, rounding the rest half-even
    let mut m: u128 = 0;
    let mut shift: i64 = 0;
    let mut sticky = false;
    for (k, c) in ip.chars().chain(fp.chars()).enumerate() {
        let d = u128::from(c.to_digit(16)?);
        let frac = k >= ip.len();
        if m >> 100 == 0 {
            m = m * 16 + d;
            if frac {
                shift -= 4;
            }
        } else {
            sticky |= d != 0;
            if !frac {
                shift += 4;
            }
        }
    }
    if m == 0 {
        return Some(0.0);
    }
    if sticky {
        m |= 1;
    }
    // value = m * 2^(shift + exp2); round m to 53 bits
    let bits = 128 - m.leading_zeros() as i64;
    let mut e2 = shift + exp2;
    if bits > 53 {
        let drop = (bits - 53) as u32;
        let rem = m & ((1u128 << drop) - 1);
        let half = 1u128 << (drop - 1);
        m >>= drop;
        if rem > half || (rem == half && m & 1 == 1) {
            m += 1;
        }
        e2 += i64::from(drop);
    }
    let v = (m as f64) * 2f64.powi(e2.clamp(-2000, 2000) as i32);
    Some(v)
}

/// strconv's `UnquoteChar` of a whole `'…'` constant: the rune, or Go's error.
pub(super) fn char_value(text: &str) -> Result<i64, String> {
    let inner = &text[1..];
    let mut chars = inner.chars();
    let first = chars.next().ok_or("invalid syntax")?;
    let (v, rest) = match first {
        '\'' => return Err("invalid syntax".into()),
        '\\' => {
            let e = chars.next().ok_or("invalid syntax")?;
            let simple = match e {
                'a' => Some('\u{7}'),
                'b' => Some('\u{8}'),
                'f' => Some('\u{c}'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                'v' => Some('\u{b}'),
                '\\' => Some('\\'),
                '\'' => Some('\''),
                _ => None,
            };
            match (simple, e) {
                (Some(c), _) => (i64::from(u32::from(c)), chars.as_str()),
                (None, 'x' | 'u' | 'U') => {
                    let n = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let rest = chars.as_str();
                    let hex = rest.get(..n).ok_or("invalid syntax")?;
                    if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                        return Err("invalid syntax".into());
                    }
                    let v = u32::from_str_radix(hex, 16).map_err(|_| "invalid syntax")?;
                    if e != 'x' && char::from_u32(v).is_none() {
                        return Err("invalid syntax".into());
                    }
                    (i64::from(v), &rest[n..])
                }
                (None, '0'..='7') => {
                    let rest = chars.as_str();
                    let oct = rest.get(..2).ok_or("invalid syntax")?;
                    if !oct.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
                        return Err("invalid syntax".into());
                    }
                    let v = u32::from_str_radix(&format!("{e}{oct}"), 8)
                        .map_err(|_| "invalid syntax")?;
                    if v > 255 {
                        return Err("invalid syntax".into());
                    }
                    (i64::from(v), &rest[2..])
                }
                _ => return Err("invalid syntax".into()),
            }
        }
        c => (i64::from(u32::from(c)), chars.as_str()),
    };
    if rest != "'" {
        return Err(format!("malformed character constant: {text}"));
    }
    Ok(v)
}

/// The constant a number literal denotes (`newNumber` + `idealConstant`), or Go's error.
pub(super) fn value(text: &str, complex: bool) -> Result<Number, String> {
    if complex || (text.ends_with('i') && go_parse_float(&text[..text.len() - 1]).is_some()) {
        return Err(format!(
            "complex constant {text} is not supported (keelson has no complex128)"
        ));
    }
    let int = go_parse_int0(text);
    let uint = go_parse_uint0(text);
    let is_hex_int = text.len() > 2
        && text.starts_with('0')
        && matches!(text.as_bytes()[1], b'x' | b'X')
        && !text.contains(['p', 'P']);
    let float_text = text.contains(['.', 'e', 'E', 'p', 'P']);
    if int.is_none() && uint.is_none() {
        let Some(f) = go_parse_float(text) else {
            return Err(format!("illegal number syntax: {text:?}"));
        };
        if !float_text {
            return Err(format!("integer overflow: {text:?}"));
        }
        return Ok(Number::Float(f));
    }
    if float_text && !is_hex_int {
        // an integer text with `.eEpP` parses as an int only in hex (`0x1e`): unreachable
        // otherwise, but kept to mirror idealConstant
        if let Some(f) = go_parse_float(text) {
            return Ok(Number::Float(f));
        }
    }
    match int {
        Some(i) => Ok(Number::Int(i)),
        None => Err(format!("{text} overflows int")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(s: &str) -> String {
        let sc = match scan(s, 0) {
            Ok(sc) => sc,
            Err(e) => return format!("bad number syntax: {e:?}"),
        };
        assert_eq!(sc.end, s.len(), "{s}");
        match value(s, sc.complex) {
            Ok(Number::Int(i)) => format!("int {i}"),
            Ok(Number::Float(f)) => format!("float {f:e}"),
            Err(e) => e,
        }
    }

    #[test]
    fn literals_like_go() {
        assert_eq!(v("0x1p60"), "float 1.152921504606847e18");
        assert_eq!(v("1_000"), "int 1000");
        assert_eq!(v("0x1F"), "int 31");
        assert_eq!(v("0o17"), "int 15");
        assert_eq!(v("0b101"), "int 5");
        assert_eq!(v("1e18"), "float 1e18");
        assert_eq!(v(".5"), "float 5e-1");
        assert_eq!(v("007"), "int 7");
        assert_eq!(v("08"), "integer overflow: \"08\"");
        assert_eq!(v("0x1.8p1"), "float 3e0");
        assert_eq!(v("0x10p-2"), "float 4e0");
        assert_eq!(v("1__0"), "illegal number syntax: \"1__0\"");
        assert_eq!(v("0b102"), "bad number syntax: \"0b102\"");
        assert_eq!(
            v("9223372036854775808"),
            "9223372036854775808 overflows int"
        );
        assert_eq!(char_value("'a'"), Ok(97));
        assert_eq!(char_value("'\\101'"), Ok(65));
        assert!(char_value("'ab'").is_err());
        assert!(char_value("''").is_err());
    }
}
