//! Git remote URLs: parsing the forms Flux accepts and printing them without credentials.
//!
//! Accepted forms: `https://`, `http://`, `ssh://`, scp-like `user@host:path`, `git://` and
//! `file://` (the last for tests and local mirrors). Credentials embedded in an HTTP(S) URL
//! (`https://user:pass@host/…`) are taken out of the URL and kept aside as basic auth; every URL
//! this crate prints goes through [`GitUrl::redacted`], which never shows a password.

use std::fmt;

/// The transport a [`GitUrl`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `https://`
    Https,
    /// `http://`
    Http,
    /// `ssh://` or scp-like `user@host:path`
    Ssh,
    /// `git://` (the git daemon protocol, unauthenticated)
    Git,
    /// `file://` (local repositories)
    File,
}

/// A parsed Git remote URL.
#[derive(Clone, PartialEq, Eq)]
pub struct GitUrl {
    scheme: Scheme,
    /// User name (kept for ssh, where it is not a secret; taken out of HTTP URLs).
    user: Option<String>,
    /// Password found in the URL's userinfo (HTTP only); never printed.
    password: Option<String>,
    /// Host (with `[` `]` for IPv6), empty for `file://`.
    host: String,
    port: Option<u16>,
    /// Path, starting with `/` for URL forms; as written for scp-like forms.
    path: String,
    /// Whether the URL was written in the scp-like form.
    scp_like: bool,
}

/// Why a URL could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Git URL {url}: {reason}")]
pub struct UrlError {
    /// The URL with any credentials removed.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Debug for GitUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug output must not leak the password either.
        write!(f, "GitUrl({})", self.redacted())
    }
}

impl fmt::Display for GitUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl GitUrl {
    /// Parses `input` as one of the accepted Git URL forms.
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let input = input.trim();
        let fail = |reason: &str| UrlError {
            url: redact_str(input),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(fail("the URL is empty"));
        }
        if let Some((scheme, rest)) = input.split_once("://") {
            let scheme = match scheme.to_ascii_lowercase().as_str() {
                "https" => Scheme::Https,
                "http" => Scheme::Http,
                "ssh" | "git+ssh" | "ssh+git" => Scheme::Ssh,
                "git" => Scheme::Git,
                "file" => Scheme::File,
                other => return Err(fail(&format!("unsupported scheme {other:?}"))),
            };
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            if scheme == Scheme::File {
                if !authority.is_empty() && authority != "localhost" {
                    return Err(fail("file:// URLs must not name a host"));
                }
                if path.is_empty() {
                    return Err(fail("the path is empty"));
                }
                return Ok(Self {
                    scheme,
                    user: None,
                    password: None,
                    host: String::new(),
                    port: None,
                    path: path.to_string(),
                    scp_like: false,
                });
            }
            let (userinfo, hostport) = match authority.rfind('@') {
                Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
                None => (None, authority),
            };
            let (user, password) = match userinfo {
                Some(info) => match info.split_once(':') {
                    Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
                    None => (Some(percent_decode(info)), None),
                },
                None => (None, None),
            };
            let (host, port) = split_host_port(hostport).map_err(|r| fail(&r))?;
            if host.is_empty() {
                return Err(fail("the host is empty"));
            }
            if path.len() <= 1 {
                return Err(fail("the repository path is empty"));
            }
            Ok(Self {
                scheme,
                user: user.filter(|u| !u.is_empty()),
                password: password.filter(|p| !p.is_empty()),
                host,
                port,
                path: path.to_string(),
                scp_like: false,
            })
        } else if let Some((left, path)) = scp_split(input) {
            // scp-like: [user@]host:path
            let (user, host) = match left.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_string()), h.to_string()),
                None => (None, left.to_string()),
            };
            if host.is_empty() || path.is_empty() {
                return Err(fail("expected [user@]host:path"));
            }
            Ok(Self {
                scheme: Scheme::Ssh,
                user,
                password: None,
                host,
                port: None,
                path: path.to_string(),
                scp_like: true,
            })
        } else {
            Err(fail(
                "expected a URL with a scheme (https, http, ssh, git, file) or [user@]host:path",
            ))
        }
    }

    /// The transport.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host (empty for `file://`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, if the URL names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The user name in the URL, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password embedded in the URL's userinfo, if any (HTTP only). Never print it.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The URL as it is given to the transport: HTTP(S) without any userinfo (credentials are sent
    /// in headers), ssh with its user name, never with a password.
    pub fn for_transport(&self) -> String {
        self.render(matches!(self.scheme, Scheme::Ssh | Scheme::Git))
    }

    /// The URL for messages: no password, and for HTTP(S) no userinfo at all.
    pub fn redacted(&self) -> String {
        self.for_transport()
    }

    fn render(&self, with_user: bool) -> String {
        let user = match (&self.user, with_user) {
            (Some(u), true) => format!("{u}@"),
            _ => String::new(),
        };
        if self.scp_like {
            return format!("{user}{}:{}", self.host, self.path);
        }
        let scheme = match self.scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
            Scheme::Ssh => "ssh",
            Scheme::Git => "git",
            Scheme::File => return format!("file://{}", self.path),
        };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{scheme}://{user}{}{port}{}", self.host, self.path)
    }
}

/// Splits an scp-like `[user@]host:path`; `None` when the input is not of that form (for example
/// a local path, or a Windows drive letter).
fn scp_split(input: &str) -> Option<(&str, &str)> {
    let colon = input.find(':')?;
    let slash = input.find('/');
    if slash.is_some_and(|s| s < colon) {
        return None;
    }
    let (left, right) = (&input[..colon], &input[colon + 1..]);
    if left.len() < 2 {
        return None;
    }
    Some((left, right))
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| "unterminated IPv6 address".to_string())?;
        let host = format!("[{}]", &rest[..end]);
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => Some(parse_port(p)?),
            _ => None,
        };
        return Ok((host, port));
    }
    match hostport.rsplit_once(':') {
        Some((host, "")) => Ok((host.to_string(), None)),
        Some((host, port)) => Ok((host.to_string(), Some(parse_port(port)?))),
        None => Ok((hostport.to_string(), None)),
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    port.parse::<u16>()
        .map_err(|_| format!("invalid port {port:?}"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes the userinfo of anything that looks like `scheme://user:pass@host` in `text`.
///
/// Used for inputs that failed to parse, and as a last line of defence on messages from the
/// transport.
pub fn redact_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => out.push_str(&authority[at + 1..]),
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let cases = [
            (
                "https://github.com/org/repo",
                Scheme::Https,
                "github.com",
                None,
                "https://github.com/org/repo",
            ),
            (
                "http://127.0.0.1:8080/r.git",
                Scheme::Http,
                "127.0.0.1",
                Some(8080),
                "http://127.0.0.1:8080/r.git",
            ),
            (
                "ssh://git@host:2222/org/r.git",
                Scheme::Ssh,
                "host",
                Some(2222),
                "ssh://git@host:2222/org/r.git",
            ),
            (
                "git@github.com:org/repo.git",
                Scheme::Ssh,
                "github.com",
                None,
                "git@github.com:org/repo.git",
            ),
            (
                "git://127.0.0.1:9418/r.git",
                Scheme::Git,
                "127.0.0.1",
                Some(9418),
                "git://127.0.0.1:9418/r.git",
            ),
            (
                "file:///tmp/r.git",
                Scheme::File,
                "",
                None,
                "file:///tmp/r.git",
            ),
        ];
        for (input, scheme, host, port, shown) in cases {
            let url = GitUrl::parse(input).unwrap();
            assert_eq!(url.scheme(), scheme, "{input}");
            assert_eq!(url.host(), host, "{input}");
            assert_eq!(url.port(), port, "{input}");
            assert_eq!(url.redacted(), shown, "{input}");
        }
    }

    #[test]
    fn credentials_are_taken_out() {
        let url = GitUrl::parse("https://bob:s3cr%40t@example.com/r.git").unwrap();
        assert_eq!(url.user(), Some("bob"));
        assert_eq!(url.password(), Some("s3cr@t"));
        assert_eq!(url.redacted(), "https://example.com/r.git");
        assert!(!format!("{url:?}").contains("s3cr"));
        let err = GitUrl::parse("ftp://bob:hunter2@example.com/r").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "repo",
            "https://",
            "https://host",
            "https://host:99999/r",
            "ftp://h/r",
        ] {
            assert!(GitUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redact_free_text() {
        assert_eq!(
            redact_str("failed: https://u:p@h/x and ssh://git@h:22/y"),
            "failed: https://h/x and ssh://h:22/y"
        );
    }
}
