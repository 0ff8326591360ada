//! Credentials for a fetch, read from a Flux-style secret (`spec.secretRef`).
//!
//! Keys understood (as Flux's GitRepository): `username` + `password` (HTTP basic auth),
//! `bearerToken` (HTTP `Authorization: Bearer`), `ca.crt` (extra PEM CA for HTTPS; `caFile` is
//! accepted as its older name), `identity` (ssh private key, PEM/OpenSSH) + `known_hosts` (ssh
//! host keys; required for ssh — the host key is always verified), `identity.pub` (ignored).
//!
//! `Debug` of these types never shows a secret value.

use std::collections::BTreeMap;
use std::fmt;

/// Credentials and trust settings for one fetch.
#[derive(Clone, Default)]
pub struct GitAuth {
    /// HTTP basic auth.
    pub basic: Option<BasicAuth>,
    /// HTTP bearer token.
    pub bearer_token: Option<String>,
    /// Extra certificate authorities (PEM) trusted for HTTPS, beside the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// SSH private key (OpenSSH or PEM format).
    pub ssh_identity: Option<Vec<u8>>,
    /// SSH `known_hosts` content; required for ssh URLs.
    pub known_hosts: Option<Vec<u8>>,
}

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password (or personal access token).
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |present: bool| if present { "<set>" } else { "<unset>" };
        f.debug_struct("GitAuth")
            .field("basic", &self.basic)
            .field("bearer_token", &set(self.bearer_token.is_some()))
            .field("ca_pem", &set(self.ca_pem.is_some()))
            .field("ssh_identity", &set(self.ssh_identity.is_some()))
            .field("known_hosts", &set(self.known_hosts.is_some()))
            .finish()
    }
}

/// A secret that cannot be used as Git credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A key's value is not valid UTF-8 where text is required.
    #[error("invalid secret key {key:?}: the value is not valid UTF-8")]
    NotUtf8 {
        /// The secret key.
        key: String,
    },
    /// `username` without `password`, or the reverse.
    #[error("invalid secret: {present:?} is set but {missing:?} is missing")]
    Incomplete {
        /// The key that is set.
        present: &'static str,
        /// The key that is missing.
        missing: &'static str,
    },
}

impl GitAuth {
    /// Reads credentials from a secret's decoded `data` (key → bytes).
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, AuthError> {
        let text = |key: &str| -> Result<Option<String>, AuthError> {
            match data.get(key) {
                None => Ok(None),
                Some(bytes) => String::from_utf8(bytes.clone())
                    .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_string()))
                    .map_err(|_| AuthError::NotUtf8 {
                        key: key.to_string(),
                    }),
            }
        };
        let username = text("username")?.filter(|s| !s.is_empty());
        let password = text("password")?.filter(|s| !s.is_empty());
        let basic = match (username, password) {
            (Some(username), Some(password)) => Some(BasicAuth { username, password }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(AuthError::Incomplete {
                    present: "username",
                    missing: "password",
                });
            }
            (None, Some(_)) => {
                return Err(AuthError::Incomplete {
                    present: "password",
                    missing: "username",
                });
            }
        };
        Ok(Self {
            basic,
            bearer_token: text("bearerToken")?.filter(|s| !s.is_empty()),
            ca_pem: data.get("ca.crt").or_else(|| data.get("caFile")).cloned(),
            ssh_identity: data.get("identity").cloned(),
            known_hosts: data.get("known_hosts").cloned(),
        })
    }

    /// The secret strings that must never appear in a message (passwords, tokens).
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(b) = &self.basic {
            out.push(b.password.clone());
        }
        if let Some(t) = &self.bearer_token {
            out.push(t.clone());
        }
        out.retain(|s| s.len() >= 3);
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_flux_keys_and_hides_secrets() {
        let mut data = BTreeMap::new();
        data.insert("username".to_string(), b"git".to_vec());
        data.insert("password".to_string(), b"hunter2\n".to_vec());
        data.insert("bearerToken".to_string(), b"tok-123".to_vec());
        data.insert("ca.crt".to_string(), b"PEM".to_vec());
        let auth = GitAuth::from_secret_data(&data).unwrap();
        assert_eq!(auth.basic.as_ref().unwrap().password, "hunter2");
        assert_eq!(auth.ca_pem.as_deref(), Some(&b"PEM"[..]));
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-123"),
            "{shown}"
        );
        data.remove("password");
        assert!(GitAuth::from_secret_data(&data).is_err());
    }
}
