//! Sprig's certificate and key functions (`genCA`, `genSelfSignedCert`, `genSignedCert`, their
//! `…WithKey` forms, `genPrivateKey`, `buildCustomCert`) and `htpasswd`, producing real keys
//! and X.509 certificates of the kinds Sprig produces: RSA-2048 keys as PKCS#1
//! (`RSA PRIVATE KEY`) for certificates, serial numbers of 128 random bits, `NotBefore` now,
//! key usages *key encipherment* and *digital signature* (plus *cert sign* for CAs), extended
//! key usages *server auth* and *client auth*. Randomness comes from the operating system.

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};

use crate::value::{Map, Value};

/// Fills `buf` with random bytes from the operating system.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), String> {
    getrandom::fill(buf).map_err(|e| format!("no randomness available: {e}"))
}

/// `n` characters drawn uniformly from `charset` with the operating system's randomness.
pub fn random_string(n: usize, charset: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(n);
    // rejection sampling keeps the draw uniform
    let limit = 256 - (256 % charset.len().max(1));
    let mut buf = [0u8; 64];
    while out.len() < n {
        random_bytes(&mut buf)?;
        for b in buf {
            if out.len() == n {
                break;
            }
            if usize::from(b) < limit {
                out.push(char::from(charset[usize::from(b) % charset.len()]));
            }
        }
    }
    Ok(out)
}

/// A certificate as Sprig returns it: `.Cert` and `.Key` in PEM.
pub fn cert_value(cert: String, key: String) -> Value {
    let mut m = Map::new();
    m.insert("Cert".into(), Value::str(cert));
    m.insert("Key".into(), Value::str(key));
    crate::template::exec::object_struct("sprig.certificate", m, None)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

// --- minimal DER reading and writing (PKCS#1 ⇄ PKCS#8, a certificate's subject)

/// One DER element: tag, content, and the whole encoding.
struct Der<'a> {
    tag: u8,
    content: &'a [u8],
}

fn der_read(input: &[u8]) -> Option<(Der<'_>, &[u8])> {
    let tag = *input.first()?;
    let first = usize::from(*input.get(1)?);
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*input.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let content = input.get(hdr..hdr + len)?;
    Some((Der { tag, content }, &input[hdr + len..]))
}

fn der_seq(input: &[u8]) -> Option<Vec<Der<'_>>> {
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let (d, r) = der_read(rest)?;
        out.push(d);
        rest = r;
    }
    Some(out)
}

fn der_write(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The inner key of a PKCS#8 `PrivateKeyInfo` (PKCS#1 for RSA, SEC1 for EC).
fn pkcs8_inner(der: &[u8]) -> Option<Vec<u8>> {
    let (outer, _) = der_read(der)?;
    let items = der_seq(outer.content)?;
    let key = items.get(2)?;
    (key.tag == 0x04).then(|| key.content.to_vec())
}

/// Wraps a PKCS#1 RSA key into PKCS#8.
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    let mut alg = der_write(0x06, OID_RSA);
    alg.extend(der_write(0x05, &[]));
    let mut body = der_write(0x02, &[0]);
    body.extend(der_write(0x30, &alg));
    body.extend(der_write(0x04, pkcs1));
    der_write(0x30, &body)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end = rest.find("-----END ")?;
    let body: String = rest[body_start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((label, der))
}

/// A freshly generated key and its PEM in Sprig's form.
struct Key {
    pair: KeyPair,
    pem: String,
}

fn rsa_key(bits: rcgen::RsaKeySize) -> Result<Key, String> {
    let pair = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, bits).map_err(err)?;
    let der = pair.serialized_der();
    let pkcs1 = pkcs8_inner(der).unwrap_or_else(|| der.to_vec());
    Ok(Key {
        pem: pem("RSA PRIVATE KEY", &pkcs1),
        pair,
    })
}

/// Reads a PEM private key as Sprig accepts them (`RSA PRIVATE KEY`, `EC PRIVATE KEY`,
/// `PRIVATE KEY`).
fn parse_key(text: &str) -> Result<Key, String> {
    let (label, der) =
        pem_decode(text).ok_or_else(|| "error decoding PEM: no key found".to_string())?;
    let pair = match label.as_str() {
        "RSA PRIVATE KEY" => {
            let p8 = pkcs1_to_pkcs8(&der);
            KeyPair::from_pkcs8_der_and_sign_algo(&p8.into(), &rcgen::PKCS_RSA_SHA256)
                .map_err(err)?
        }
        "EC PRIVATE KEY" => {
            KeyPair::from_pem_and_sign_algo(text, &rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?
        }
        "PRIVATE KEY" => KeyPair::from_pem(text).map_err(err)?,
        other => return Err(format!("unsupported key type {other:?}")),
    };
    Ok(Key {
        pair,
        pem: text.to_string(),
    })
}

/// `genPrivateKey`: `rsa` (4096 bits, PKCS#1), `ecdsa` (P-256, SEC1), `ed25519` (PKCS#8).
pub fn gen_private_key(typ: &str) -> Result<String, String> {
    match typ {
        "" | "rsa" => Ok(rsa_key(rcgen::RsaKeySize::_4096)?.pem),
        "ecdsa" => {
            let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
            let der = pair.serialized_der();
            Ok(pem(
                "EC PRIVATE KEY",
                &pkcs8_inner(der).unwrap_or_else(|| der.to_vec()),
            ))
        }
        "ed25519" => {
            let pair = KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(err)?;
            Ok(pem("PRIVATE KEY", pair.serialized_der()))
        }
        "dsa" => Err("DSA keys are not supported".into()),
        other => Ok(format!("Unknown type {other}")),
    }
}

fn base_params(
    cn: &str,
    ips: &[String],
    dns: &[String],
    days: i64,
) -> Result<CertificateParams, String> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now;
    p.not_after = now + time::Duration::days(days);
    let mut serial = [0u8; 16];
    random_bytes(&mut serial)?;
    serial[0] &= 0x7f;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.is_ca = IsCa::ExplicitNoCa;
    for ip in ips {
        let addr = ip.parse().map_err(|_| format!("error parsing ip: {ip}"))?;
        p.subject_alt_names.push(SanType::IpAddress(addr));
    }
    for d in dns {
        p.subject_alt_names
            .push(SanType::DnsName(d.as_str().try_into().map_err(err)?));
    }
    Ok(p)
}

/// `genCA` / `genCAWithKey`.
pub fn gen_ca(cn: &str, days: i64, key: Option<&str>) -> Result<Value, String> {
    let key = match key {
        Some(k) => parse_key(k)?,
        None => rsa_key(rcgen::RsaKeySize::_2048)?,
    };
    let mut p = base_params(cn, &[], &[], days)?;
    p.key_usages.push(KeyUsagePurpose::KeyCertSign);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = p.self_signed(&key.pair).map_err(err)?;
    Ok(cert_value(cert.pem(), key.pem))
}

/// `genSelfSignedCert` / `genSelfSignedCertWithKey`.
pub fn gen_self_signed(
    cn: &str,
    ips: &[String],
    dns: &[String],
    days: i64,
    key: Option<&str>,
) -> Result<Value, String> {
    let key = match key {
        Some(k) => parse_key(k)?,
        None => rsa_key(rcgen::RsaKeySize::_2048)?,
    };
    let p = base_params(cn, ips, dns, days)?;
    let cert = p.self_signed(&key.pair).map_err(err)?;
    Ok(cert_value(cert.pem(), key.pem))
}

/// The subject of a PEM certificate as a distinguished name.
fn cert_subject(cert_pem: &str) -> Result<DistinguishedName, String> {
    let bad = || "error parsing certificate".to_string();
    let (_, der) = pem_decode(cert_pem).ok_or_else(bad)?;
    let (cert, _) = der_read(&der).ok_or_else(bad)?;
    let parts = der_seq(cert.content).ok_or_else(bad)?;
    let tbs = der_seq(parts.first().ok_or_else(bad)?.content).ok_or_else(bad)?;
    // [0] version is optional; then serial, signature, issuer, validity, subject
    let skip = usize::from(tbs.first().is_some_and(|d| d.tag == 0xa0));
    let subject = tbs.get(skip + 4).ok_or_else(bad)?;
    let mut dn = DistinguishedName::new();
    for rdn in der_seq(subject.content).ok_or_else(bad)? {
        for atv in der_seq(rdn.content).ok_or_else(bad)? {
            let f = der_seq(atv.content).ok_or_else(bad)?;
            let (Some(oid), Some(val)) = (f.first(), f.get(1)) else {
                return Err(bad());
            };
            let s = String::from_utf8_lossy(val.content).into_owned();
            let ty = match oid.content {
                [0x55, 0x04, 0x03] => DnType::CommonName,
                [0x55, 0x04, 0x06] => DnType::CountryName,
                [0x55, 0x04, 0x07] => DnType::LocalityName,
                [0x55, 0x04, 0x08] => DnType::StateOrProvinceName,
                [0x55, 0x04, 0x0a] => DnType::OrganizationName,
                [0x55, 0x04, 0x0b] => DnType::OrganizationalUnitName,
                _ => continue,
            };
            let v = match val.tag {
                0x13 => DnValue::PrintableString(s.as_str().try_into().map_err(err)?),
                _ => DnValue::Utf8String(s),
            };
            dn.push(ty, v);
        }
    }
    Ok(dn)
}

/// `genSignedCert` / `genSignedCertWithKey`: signed by `ca` (a certificate value).
pub fn gen_signed(
    cn: &str,
    ips: &[String],
    dns: &[String],
    days: i64,
    ca_cert: &str,
    ca_key: &str,
    key: Option<&str>,
) -> Result<Value, String> {
    let ca = parse_key(ca_key).map_err(|e| format!("error parsing ca key: {e}"))?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = cert_subject(ca_cert)?;
    let issuer = Issuer::new(ca_params, &ca.pair);
    let key = match key {
        Some(k) => parse_key(k)?,
        None => rsa_key(rcgen::RsaKeySize::_2048)?,
    };
    let p = base_params(cn, ips, dns, days)?;
    let cert = p.signed_by(&key.pair, &issuer).map_err(err)?;
    Ok(cert_value(cert.pem(), key.pem))
}

/// `buildCustomCert`: a certificate value from base64-encoded PEM certificate and key.
pub fn build_custom_cert(cert_b64: &str, key_b64: &str) -> Result<Value, String> {
    let dec = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| format!("unable to decode base64: {e}"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let cert = dec(cert_b64)?;
    let key = dec(key_b64)?;
    if pem_decode(&cert).is_none() {
        return Err("unable to decode certificate".into());
    }
    if pem_decode(&key).is_none() {
        return Err("unable to decode private key".into());
    }
    Ok(cert_value(cert, key))
}

/// `htpasswd`: `user:` and a bcrypt hash (`$2a$`, cost 10) of the password, as Sprig writes it.
pub fn htpasswd(user: &str, password: &str) -> Result<String, String> {
    if user.contains(':') {
        return Ok(format!("invalid username: {user}"));
    }
    let h = bcrypt::hash_with_result(password, 10).map_err(err)?;
    Ok(format!(
        "{user}:{}",
        h.format_for_version(bcrypt::Version::TwoA)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &Value, k: &str) -> String {
        match v {
            Value::Object(o) => match &**o {
                crate::value::Object::Struct { fields, .. } => {
                    fields.get(k).map(crate::funcs::strval).unwrap_or_default()
                }
                _ => String::new(),
            },
            _ => String::new(),
        }
    }

    #[test]
    fn ca_then_signed_cert_chain() -> Result<(), String> {
        let ca = gen_ca("my-ca", 365, None)?;
        let (ca_cert, ca_key) = (field(&ca, "Cert"), field(&ca, "Key"));
        assert!(ca_cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(ca_key.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let subject = cert_subject(&ca_cert)?;
        assert!(format!("{subject:?}").contains("my-ca"));
        let leaf = gen_signed(
            "svc.ns.svc",
            &["10.0.0.1".into()],
            &["svc.ns.svc".into()],
            30,
            &ca_cert,
            &ca_key,
            None,
        )?;
        assert!(field(&leaf, "Cert").contains("BEGIN CERTIFICATE"));
        let own = gen_self_signed("x", &[], &["x.example".into()], 1, Some(&ca_key))?;
        assert_eq!(field(&own, "Key"), ca_key);
        Ok(())
    }

    #[test]
    fn private_keys_and_htpasswd() -> Result<(), String> {
        assert!(gen_private_key("ecdsa")?.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        assert!(gen_private_key("ed25519")?.starts_with("-----BEGIN PRIVATE KEY-----"));
        let h = htpasswd("admin", "secret")?;
        assert!(h.starts_with("admin:$2a$10$"), "{h}");
        assert!(bcrypt::verify("secret", &h["admin:".len()..]).unwrap_or(false));
        assert_eq!(random_string(12, b"ab")?.len(), 12);
        Ok(())
    }
}
