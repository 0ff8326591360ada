//! The bound on YAML alias expansion ("billion laughs"): a few hundred bytes of nested aliases
//! can stand for billions of nodes. go-yaml v3 refuses a document once too large a share of the
//! nodes it decoded came from aliases; [`AliasBudget`] applies the same rule (`decoder.unmarshal`
//! and `allowedAliasRatio` in go-yaml v3 decode.go), so whatever go-yaml (and so Flux and sops)
//! accepts is accepted, and nothing is ever expanded past the bound.

/// Up to this many decoded nodes, 99 % may come from aliases (go-yaml's `alias_ratio_range_low`).
const RANGE_LOW: u64 = 400_000;
/// From this many decoded nodes on, only 10 % may (go-yaml's `alias_ratio_range_high`).
const RANGE_HIGH: u64 = 4_000_000;

/// The share of decoded nodes that may come from alias expansion once `decoded` nodes were
/// decoded: 99 % for small documents, 10 % for very large ones, linear in between.
pub fn allowed_alias_ratio(decoded: u64) -> f64 {
    if decoded <= RANGE_LOW {
        0.99
    } else if decoded >= RANGE_HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - RANGE_LOW) as f64 / (RANGE_HIGH - RANGE_LOW) as f64)
    }
}

/// Alias expansion refused: the counts at the alias that crossed the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AliasLimit {
    /// Nodes decoded in the document, the refused expansion included.
    pub decoded: u64,
    /// How many of them came from aliases.
    pub from_aliases: u64,
}

impl std::fmt::Display for AliasLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} nodes would come from aliases (at most {:.0} % allowed, as go-yaml v3)",
            self.from_aliases,
            self.decoded,
            100.0 * allowed_alias_ratio(self.decoded)
        )
    }
}

/// Counts the nodes of one YAML document as go-yaml v3's decoder does: every node written in
/// the text (mapping keys included) is one, an alias is one plus every node of what it
/// expands to (nested aliases expanded).
///
/// go-yaml checks after each node; while an alias expands, the share of alias nodes only grows
/// and the allowed share only shrinks, so checking once with the whole expansion
/// ([`AliasBudget::alias`]) refuses exactly the same documents, before anything is copied.
#[derive(Debug, Default, Clone)]
pub struct AliasBudget {
    decoded: u64,
    from_aliases: u64,
}

impl AliasBudget {
    /// A budget for a new document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one node written in the text (scalar, mapping or sequence, key or value).
    pub fn node(&mut self) {
        self.decoded += 1;
    }

    /// Counts an alias whose target holds `target_nodes` nodes (its own count, with the aliases
    /// inside it expanded).
    ///
    /// # Errors
    /// [`AliasLimit`] when the expansion takes the document past go-yaml's bound; the counts
    /// are left unchanged then.
    pub fn alias(&mut self, target_nodes: u64) -> Result<(), AliasLimit> {
        let decoded = self.decoded.saturating_add(1).saturating_add(target_nodes);
        let from_aliases = self.from_aliases.saturating_add(target_nodes);
        if from_aliases > 100
            && decoded > 1000
            && from_aliases as f64 / decoded as f64 > allowed_alias_ratio(decoded)
        {
            return Err(AliasLimit {
                decoded,
                from_aliases,
            });
        }
        self.decoded = decoded;
        self.from_aliases = from_aliases;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ratio_follows_go_yaml() {
        assert_eq!(allowed_alias_ratio(10), 0.99);
        assert_eq!(allowed_alias_ratio(RANGE_LOW), 0.99);
        assert_eq!(allowed_alias_ratio(RANGE_HIGH), 0.10);
        assert_eq!(allowed_alias_ratio(u64::MAX), 0.10);
        let mid = allowed_alias_ratio((RANGE_LOW + RANGE_HIGH) / 2);
        assert!((mid - 0.545).abs() < 1e-9, "{mid}");
    }

    #[test]
    fn small_documents_may_alias_freely() {
        // 100 alias nodes are always allowed, whatever the share.
        let mut b = AliasBudget::new();
        b.node();
        assert!(b.alias(100).is_ok());
        // 1000 decoded nodes are always allowed too.
        let mut b = AliasBudget::new();
        b.node();
        assert!(b.alias(998).is_ok());
    }

    #[test]
    fn large_expansions_are_refused() {
        let mut b = AliasBudget::new();
        for _ in 0..10 {
            b.node();
        }
        // 1 + 2000 decoded of which 2000 by alias: above 99 %.
        let err = b.alias(2000).unwrap_err();
        assert_eq!(err.from_aliases, 2000);
        assert_eq!(err.decoded, 2011);
        // Expanding the same target 9 more times is refused at the first that crosses.
        let mut b = AliasBudget::new();
        for _ in 0..100 {
            b.node();
        }
        let mut ok = 0;
        while b.alias(1000).is_ok() {
            ok += 1;
        }
        // After k expansions 100 + 1001 k nodes were decoded, 1000 k from aliases: the share
        // passes 99 % at k = 11.
        assert_eq!(ok, 10, "{b:?}");
    }
}
