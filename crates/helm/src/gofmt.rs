//! Go's `fmt` formatting of template values: `%v`, `Sprint`, `Sprintln`, `Sprintf` verbs, and the
//! float formatting of `strconv` (`%g` shortest, `%e`, `%f`) and `encoding/json`.

use std::fmt::Write as _;

use crate::value::{Value, write_v};

/// Decimal digits (no leading/trailing zeros) and the decimal point position of |f| (f finite, ≠ 0),
/// rounded to `sig` significant digits, or the shortest that round-trips when `sig` is `None`.
fn decimal(f: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        Some(n) => format!("{:.*e}", n.saturating_sub(1), f.abs()),
        None => format!("{:e}", f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (digits, exp + 1)
}

fn fmt_e(neg: bool, digits: &str, dp: i32, prec: usize, upper: bool) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let d: Vec<char> = digits.chars().collect();
    out.push(d.first().copied().unwrap_or('0'));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.get(i).copied().unwrap_or('0'));
        }
    }
    let exp = if digits == "0" { 0 } else { dp - 1 };
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    let _ = write!(out, "{a}");
    out
}

fn fmt_f(neg: bool, digits: &str, dp: i32, prec: usize) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let d: Vec<char> = digits.chars().collect();
    if dp > 0 {
        for i in 0..dp as usize {
            out.push(d.get(i).copied().unwrap_or('0'));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i32 {
            let idx = dp + i;
            let c = if idx < 0 {
                '0'
            } else {
                d.get(idx as usize).copied().unwrap_or('0')
            };
            out.push(c);
        }
    }
    out
}

fn special(f: f64, plus: bool) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        })
    } else if f == 0.0 {
        let neg = f.is_sign_negative();
        Some(if neg {
            "-0".into()
        } else if plus {
            "+0".into()
        } else {
            "0".into()
        })
    } else {
        None
    }
}

/// `strconv.FormatFloat(f, 'g', prec, 64)`; `None` is the shortest representation (`%v`).
pub fn format_float_g(f: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(f, false) {
        return s;
    }
    let neg = f < 0.0;
    let shortest = prec.is_none();
    let p = prec.map(|p| p.max(1));
    let (digits, dp) = decimal(f, p);
    let nd = digits.len() as i32;
    let mut prec = p.map(|p| p as i32).unwrap_or(nd);
    let mut eprec = prec;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dp - 1;
    if exp < -4 || exp >= eprec {
        if prec > nd {
            prec = nd;
        }
        return fmt_e(neg, &digits, dp, (prec - 1).max(0) as usize, false);
    }
    if prec > dp {
        prec = nd;
    }
    fmt_f(neg, &digits, dp, (prec - dp).max(0) as usize)
}

/// `strconv.FormatFloat(f, 'e', prec, 64)`; `None` is shortest.
pub fn format_float_e(f: f64, prec: Option<usize>, upper: bool) -> String {
    if f.is_nan() || f.is_infinite() {
        return special(f, false).unwrap_or_default();
    }
    let neg = f.is_sign_negative() && f != 0.0;
    if f == 0.0 {
        return fmt_e(neg, "0", 1, prec.unwrap_or(0), upper);
    }
    let (digits, dp) = decimal(f, prec.map(|p| p + 1));
    let p = prec.unwrap_or(digits.len() - 1);
    fmt_e(neg, &digits, dp, p, upper)
}

/// `strconv.FormatFloat(f, 'f', prec, 64)`; `None` is shortest.
pub fn format_float_f(f: f64, prec: Option<usize>) -> String {
    if f.is_nan() || f.is_infinite() {
        return special(f, false).unwrap_or_default();
    }
    match prec {
        Some(p) => format!("{f:.p$}"),
        None => {
            if f == 0.0 {
                return "0".into();
            }
            let (digits, dp) = decimal(f, None);
            let p = (digits.len() as i32 - dp).max(0) as usize;
            fmt_f(f < 0.0, &digits, dp, p)
        }
    }
}

/// How `encoding/json` writes a float64.
pub fn format_float_json(f: f64) -> String {
    if f == 0.0 && f.is_sign_negative() {
        return "-0".into(); // encoding/json keeps the sign of zero
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format_float_e(f, None, false);
        // clean up e-09 to e-9
        if let Some(idx) = s.find("e-0") {
            return format!("{}e-{}", &s[..idx], &s[idx + 3..]);
        }
        if let Some(idx) = s.find("e+0") {
            return format!("{}e+{}", &s[..idx], &s[idx + 3..]);
        }
        return s;
    }
    format_float_f(f, None)
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c == '\u{fffd}' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `fmt.Sprint`: operands formatted with `%v`, a space between two operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        write_v(&mut out, a, true);
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands with `%v`, always separated by spaces, and a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_v(&mut out, a, true);
    }
    out.push('\n');
    out
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(s: String, spec: &Spec, numeric: bool) -> String {
    let Some(w) = spec.width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if spec.minus {
        return s + &" ".repeat(fill);
    }
    if spec.zero && numeric {
        let (sign, rest) = if s.starts_with('-') || s.starts_with('+') {
            s.split_at(1)
        } else {
            ("", s.as_str())
        };
        return format!("{sign}{}{rest}", "0".repeat(fill));
    }
    " ".repeat(fill) + &s
}

fn bad_verb(verb: char, v: &Value) -> String {
    match v {
        Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", v.type_name(), v.to_go_string()),
    }
}

fn fmt_int(i: i64, verb: char, spec: &Spec) -> Option<String> {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let body = match verb {
        'd' | 'v' => format!("{a}"),
        'x' => format!("{a:x}"),
        'X' => format!("{a:X}"),
        'o' => format!("{a:o}"),
        'O' => format!("0o{a:o}"),
        'b' => format!("{a:b}"),
        'c' => return Some(char::from_u32(i as u32).unwrap_or('\u{fffd}').to_string()),
        'q' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            return Some(format!("'{}'", &go_quote(&c.to_string()).trim_matches('"')));
        }
        'U' => return Some(format!("U+{a:04X}")),
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => return None,
        _ => return None,
    };
    let mut body = body;
    if let Some(p) = spec.prec {
        while body.len() < p {
            body.insert(0, '0');
        }
    }
    if spec.sharp {
        match verb {
            'x' => body.insert_str(0, "0x"),
            'X' => body.insert_str(0, "0X"),
            'o' if !body.starts_with('0') => body.insert(0, '0'),
            _ => {}
        }
    }
    let sign = if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    Some(format!("{sign}{body}"))
}

fn fmt_float(f: f64, verb: char, spec: &Spec) -> Option<String> {
    let s = match verb {
        'v' | 'g' => format_float_g(f, spec.prec),
        'G' => format_float_g(f, spec.prec).to_uppercase(),
        'e' | 'E' => format_float_e(f, Some(spec.prec.unwrap_or(6)), verb == 'E'),
        'f' | 'F' => format_float_f(f, Some(spec.prec.unwrap_or(6))),
        _ => return None,
    };
    if spec.plus && !s.starts_with('-') && !s.starts_with('+') {
        return Some(format!("+{s}"));
    }
    if spec.space && !s.starts_with('-') {
        return Some(format!(" {s}"));
    }
    Some(s)
}

fn fmt_str(s: &str, verb: char, spec: &Spec) -> Option<String> {
    let s = match spec.prec {
        Some(p) if matches!(verb, 's' | 'v' | 'q') => s.chars().take(p).collect::<String>(),
        _ => s.to_string(),
    };
    Some(match verb {
        's' | 'v' => s,
        'q' => {
            if spec.sharp && !s.contains('`') && !s.chars().any(|c| c.is_control() && c != '\t') {
                format!("`{s}`")
            } else {
                go_quote(&s)
            }
        }
        'x' => hex(s.as_bytes(), false, spec),
        'X' => hex(s.as_bytes(), true, spec),
        _ => return None,
    })
}

fn hex(b: &[u8], upper: bool, spec: &Spec) -> String {
    let mut out = String::new();
    for (i, x) in b.iter().enumerate() {
        if spec.space && i > 0 {
            out.push(' ');
        }
        if spec.sharp && (spec.space || i == 0) {
            out.push_str(if upper { "0X" } else { "0x" });
        }
        if upper {
            let _ = write!(out, "{x:02X}");
        } else {
            let _ = write!(out, "{x:02x}");
        }
    }
    out
}

/// Formats one value for one verb, as `fmt` does.
fn fmt_value(v: &Value, verb: char, spec: &Spec) -> String {
    let numeric = matches!(v, Value::Int(_) | Value::Float(_));
    let s = match v {
        Value::Int(i) if verb != 'v' => fmt_int(*i, verb, spec),
        Value::Int(i) => fmt_int(*i, 'd', spec),
        Value::Float(f) => fmt_float(*f, verb, spec),
        Value::Str(s) => fmt_str(s, verb, spec),
        Value::Bytes(b) => match verb {
            's' => Some(String::from_utf8_lossy(b).into_owned()),
            'q' => Some(go_quote(&String::from_utf8_lossy(b))),
            'x' => Some(hex(b, false, spec)),
            'X' => Some(hex(b, true, spec)),
            'v' | 'd' => Some(v.to_go_string()),
            _ => None,
        },
        Value::Bool(b) => match verb {
            'v' | 't' => Some(b.to_string()),
            _ => None,
        },
        Value::Nil => match verb {
            'v' => Some("<nil>".into()),
            _ => None,
        },
        Value::List(l) if verb != 'v' => {
            let parts: Vec<String> = l.iter().map(|x| fmt_value(x, verb, spec)).collect();
            Some(format!("[{}]", parts.join(" ")))
        }
        Value::Map(m) if verb != 'v' => {
            let parts: Vec<String> = m
                .borrow()
                .iter()
                .map(|(k, x)| {
                    format!(
                        "{}:{}",
                        fmt_str(k, verb, spec)
                            .unwrap_or_else(|| bad_verb(verb, &Value::str(k.as_str()))),
                        fmt_value(x, verb, spec)
                    )
                })
                .collect();
            Some(format!("map[{}]", parts.join(" ")))
        }
        _ => match verb {
            'v' | 's' => Some(v.to_go_string()),
            _ => None,
        },
    };
    match s {
        Some(s) => pad(s, spec, numeric),
        None => bad_verb(verb, v),
    }
}

/// `fmt.Sprintf` with Go's verbs, flags, width and precision, and its error notations
/// (`%!d(string=x)`, `%!v(MISSING)`, `%!(EXTRA …)`).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    let mut argi = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        while i < chars.len() {
            match chars[i] {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        if i < chars.len() && chars[i] == '*' {
            i += 1;
            if let Some(Value::Int(w)) = args.get(argi) {
                if *w < 0 {
                    spec.minus = true;
                }
                spec.width = Some(w.unsigned_abs() as usize);
            }
            argi += 1;
        } else {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i > start {
                spec.width = chars[start..i].iter().collect::<String>().parse().ok();
            }
        }
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            if i < chars.len() && chars[i] == '*' {
                i += 1;
                if let Some(Value::Int(p)) = args.get(argi) {
                    spec.prec = Some((*p).max(0) as usize);
                }
                argi += 1;
            } else {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                spec.prec = Some(
                    chars[start..i]
                        .iter()
                        .collect::<String>()
                        .parse()
                        .unwrap_or(0),
                );
            }
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        argi += 1;
        if verb == 'T' {
            out.push_str(&pad(arg.type_name().to_string(), &spec, false));
            continue;
        }
        out.push_str(&fmt_value(arg, verb, &spec));
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| match a {
                Value::Nil => "<nil>".to_string(),
                _ => format!("{}={}", a.type_name(), a.to_go_string()),
            })
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(format_float_g(1e6, None), "1e+06");
        assert_eq!(format_float_g(100000.0, None), "100000");
        assert_eq!(format_float_g(8080.0, None), "8080");
        assert_eq!(format_float_g(0.5, None), "0.5");
        assert_eq!(format_float_g(1e-5, None), "1e-05");
        assert_eq!(format_float_g(0.0001, None), "0.0001");
        assert_eq!(format_float_g(123456789.0, None), "1.23456789e+08");
        assert_eq!(format_float_g(-2.5, None), "-2.5");
        assert_eq!(format_float_json(1e6), "1000000");
        assert_eq!(format_float_json(1e21), "1e+21");
        assert_eq!(format_float_json(1e-7), "1e-7");
        assert_eq!(format_float_json(0.25), "0.25");
        assert_eq!(format_float_e(1234.5678, Some(2), false), "1.23e+03");
        assert_eq!(format_float_f(1.23456, Some(2)), "1.23");
        assert_eq!(format_float_g(1.23456, Some(3)), "1.23");
    }

    #[test]
    fn sprintf_like_go() {
        let s = |x: &str| Value::str(x);
        assert_eq!(sprintf("%s-%d", &[s("a"), Value::Int(3)]), "a-3");
        assert_eq!(sprintf("%d", &[Value::Float(8080.0)]), "%!d(float64=8080)");
        assert_eq!(sprintf("%s", &[Value::Int(5)]), "%!s(int=5)");
        assert_eq!(
            sprintf("%v %v", &[Value::Nil, Value::Bool(true)]),
            "<nil> true"
        );
        assert_eq!(sprintf("%q", &[s("a\"b")]), "\"a\\\"b\"");
        assert_eq!(
            sprintf("%05d|%-4s|%4s", &[Value::Int(42), s("ab"), s("cd")]),
            "00042|ab  |  cd"
        );
        assert_eq!(sprintf("%x", &[s("hi")]), "6869");
        assert_eq!(sprintf("%d", &[]), "%!d(MISSING)");
        assert_eq!(sprintf("a", &[Value::Int(1)]), "a%!(EXTRA int=1)");
        assert_eq!(sprintf("%.2f", &[Value::Float(2.0 / 3.0)]), "0.67");
        assert_eq!(sprintf("%%", &[]), "%");
        assert_eq!(
            sprint(&[s("a"), Value::Int(1), Value::Int(2), s("b")]),
            "a1 2b"
        );
        assert_eq!(sprintln(&[s("a"), Value::Int(1)]), "a 1\n");
    }
}
