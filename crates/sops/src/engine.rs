//! Walking the tree: which values are encrypted, encrypting / decrypting them, and the MAC.
//!
//! The walk follows sops' `Tree.Encrypt` / `Tree.Decrypt` exactly, because the MAC is a SHA-512
//! over the plaintext values in walk order and must match byte for byte:
//! - values are visited depth first in document order; nulls are skipped;
//! - a value's path is the list of mapping keys above it (sequence indices are not part of it);
//!   its AES-GCM additional data is the path joined by `:` plus a trailing `:`;
//! - comments are encrypted like values (path of the enclosing mapping) but never hashed;
//! - with `mac_only_encrypted`, the hash starts with a fixed 32-byte prefix and covers only the
//!   values that are encrypted.

use regex::Regex;
use sha2::{Digest, Sha512};

use crate::cipher;
use crate::error::Error;
use crate::metadata::Rules;
use crate::tree::{Branch, Comment, Item, Tree, Value};

/// `sha256("sops")`, the MAC prefix when only encrypted values are hashed.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// The encryption rules with their regexes compiled.
pub struct Selector {
    rules: Rules,
    unencrypted_regex: Option<Regex>,
    encrypted_regex: Option<Regex>,
    unencrypted_comment_regex: Option<Regex>,
    encrypted_comment_regex: Option<Regex>,
}

fn compile(rule: &'static str, pattern: &Option<String>) -> Result<Option<Regex>, Error> {
    match pattern.as_deref().filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => Regex::new(p).map(Some).map_err(|e| Error::Regex {
            rule,
            message: e.to_string(),
        }),
    }
}

impl Selector {
    /// Compiles the rules.
    pub fn new(rules: &Rules) -> Result<Self, Error> {
        Ok(Selector {
            unencrypted_regex: compile("unencrypted_regex", &rules.unencrypted_regex)?,
            encrypted_regex: compile("encrypted_regex", &rules.encrypted_regex)?,
            unencrypted_comment_regex: compile(
                "unencrypted_comment_regex",
                &rules.unencrypted_comment_regex,
            )?,
            encrypted_comment_regex: compile(
                "encrypted_comment_regex",
                &rules.encrypted_comment_regex,
            )?,
            rules: rules.clone(),
        })
    }

    /// sops' `shouldBeEncrypted`.
    fn should_encrypt(&self, path: &[String], stack: &[Vec<String>], is_comment: bool) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = self
            .rules
            .unencrypted_suffix
            .as_deref()
            .filter(|s| !s.is_empty())
            && path.iter().any(|k| k.ends_with(suffix))
        {
            encrypted = false;
        }
        if let Some(suffix) = self
            .rules
            .encrypted_suffix
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            encrypted = path.iter().any(|k| k.ends_with(suffix));
        }
        if let Some(re) = &self.unencrypted_regex
            && path.iter().any(|k| re.is_match(k))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_regex {
            encrypted = path.iter().any(|k| re.is_match(k));
        }
        if let Some(re) = &self.unencrypted_comment_regex
            && stack.iter().flatten().any(|c| re.is_match(c))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_comment_regex {
            encrypted = false;
            let last = stack.len().saturating_sub(1);
            let last_len = stack.last().map_or(0, Vec::len);
            'outer: for (i, cs) in stack.iter().enumerate() {
                for (j, c) in cs.iter().enumerate() {
                    // The comment line that matches is itself not encrypted.
                    if is_comment && i == last && j + 1 == last_len {
                        continue;
                    }
                    if re.is_match(c) {
                        encrypted = true;
                        break 'outer;
                    }
                }
            }
        }
        encrypted
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Encrypt,
    Decrypt,
}

struct Walker<'a> {
    selector: &'a Selector,
    key: &'a [u8; 32],
    mode: Mode,
    hash: Sha512,
}

fn aad(path: &[String]) -> String {
    let mut s = path.join(":");
    s.push(':');
    s
}

impl Walker<'_> {
    fn new<'a>(selector: &'a Selector, key: &'a [u8; 32], mode: Mode) -> Walker<'a> {
        let mut hash = Sha512::new();
        if selector.rules.mac_only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        Walker {
            selector,
            key,
            mode,
            hash,
        }
    }

    fn hash_value(&mut self, encrypted: bool, v: &Value) {
        if !self.selector.rules.mac_only_encrypted || encrypted {
            // A sequence item that decrypts to a comment (sops stores comments inside lists as
            // encrypted items) is not hashed: `mac_bytes` is `None` for comments.
            if let Some(bytes) = v.mac_bytes() {
                self.hash.update(bytes);
            }
        }
    }

    /// Handles one leaf (a scalar or a comment); returns its replacement.
    fn leaf(&mut self, v: &Value, path: &[String], stack: &[Vec<String>]) -> Result<Value, Error> {
        let is_comment = matches!(v, Value::Comment(_));
        let encrypted = self.selector.should_encrypt(path, stack, is_comment);
        match self.mode {
            Mode::Encrypt => {
                if !is_comment {
                    self.hash_value(encrypted, v);
                }
                if !encrypted {
                    return Ok(v.clone());
                }
                let text =
                    cipher::encrypt(v, self.key, &aad(path)).map_err(|source| Error::Value {
                        path: display_path(path),
                        source,
                    })?;
                Ok(Value::Str(text))
            }
            Mode::Decrypt => {
                let out = if !encrypted {
                    v.clone()
                } else if let Value::Comment(c) = v {
                    // Comments that do not decrypt are assumed to have been left in clear.
                    match cipher::decrypt(&c.value, self.key, &aad(path)) {
                        Ok(Value::Comment(d)) => Value::Comment(d),
                        Ok(Value::Str(s)) => Value::Comment(Comment {
                            value: s,
                            inline: c.inline,
                        }),
                        Ok(_) | Err(_) => v.clone(),
                    }
                } else if let Value::Str(s) = v {
                    cipher::decrypt(s, self.key, &aad(path)).map_err(|source| Error::Value {
                        path: display_path(path),
                        source,
                    })?
                } else {
                    return Err(Error::NotEncrypted {
                        path: display_path(path),
                    });
                };
                if !is_comment {
                    self.hash_value(encrypted, &out);
                }
                Ok(out)
            }
        }
    }

    fn walk_value(
        &mut self,
        v: &mut Value,
        path: &mut Vec<String>,
        stack: &mut Vec<Vec<String>>,
    ) -> Result<(), Error> {
        match v {
            Value::Null => Ok(()),
            Value::Map(b) => self.walk_branch(b, path, stack),
            Value::Seq(items) => self.walk_seq(items, path, stack),
            leaf => {
                *leaf = self.leaf(leaf, path, stack)?;
                Ok(())
            }
        }
    }

    fn walk_seq(
        &mut self,
        items: &mut [Value],
        path: &mut Vec<String>,
        stack: &mut Vec<Vec<String>>,
    ) -> Result<(), Error> {
        stack.push(Vec::new());
        for item in items.iter_mut() {
            let is_comment = if let Value::Comment(c) = item {
                if let Some(top) = stack.last_mut() {
                    top.push(c.value.clone());
                }
                true
            } else {
                false
            };
            self.walk_value(item, path, stack)?;
            if !is_comment && let Some(top) = stack.last_mut() {
                top.clear();
            }
        }
        stack.pop();
        Ok(())
    }

    fn walk_branch(
        &mut self,
        branch: &mut Branch,
        path: &mut Vec<String>,
        stack: &mut Vec<Vec<String>>,
    ) -> Result<(), Error> {
        stack.push(Vec::new());
        for item in branch.0.iter_mut() {
            match item {
                Item::Comment(c) => {
                    if let Some(top) = stack.last_mut() {
                        top.push(c.value.clone());
                    }
                    let inline = c.inline;
                    let out = self.leaf(&Value::Comment(c.clone()), path, stack)?;
                    *c = match out {
                        Value::Comment(d) => d,
                        Value::Str(s) => Comment { value: s, inline },
                        _ => c.clone(),
                    };
                }
                Item::Entry(key, value) => {
                    path.push(key.clone());
                    let r = self.walk_value(value, path, stack);
                    path.pop();
                    r?;
                    if let Some(top) = stack.last_mut() {
                        top.clear();
                    }
                }
            }
        }
        stack.pop();
        Ok(())
    }

    fn finish(self) -> String {
        let digest = self.hash.finalize();
        digest.iter().map(|b| format!("{b:02X}")).collect()
    }
}

fn display_path(path: &[String]) -> String {
    if path.is_empty() {
        "(top level)".to_string()
    } else {
        path.join(".")
    }
}

/// Encrypts the values of `tree` in place; returns the (clear) MAC.
pub fn encrypt_tree(tree: &mut Tree, selector: &Selector, key: &[u8; 32]) -> Result<String, Error> {
    let mut w = Walker::new(selector, key, Mode::Encrypt);
    for branch in &mut tree.branches {
        w.walk_branch(branch, &mut Vec::new(), &mut Vec::new())?;
    }
    Ok(w.finish())
}

/// Decrypts the values of `tree` in place; returns the MAC computed over the plaintext.
pub fn decrypt_tree(tree: &mut Tree, selector: &Selector, key: &[u8; 32]) -> Result<String, Error> {
    let mut w = Walker::new(selector, key, Mode::Decrypt);
    for branch in &mut tree.branches {
        w.walk_branch(branch, &mut Vec::new(), &mut Vec::new())?;
    }
    Ok(w.finish())
}
