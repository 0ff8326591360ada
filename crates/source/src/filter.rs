//! Which files of a checkout go into the artifact: Flux's ignore rules.
//!
//! Rules, in increasing priority (a later matching rule wins, gitignore-style):
//! 1. always: the VCS patterns `.git/`, `.gitignore`, `.gitmodules`, `.gitattributes`;
//! 2. only when no user rules exist (no `.sourceignore` anywhere and no `spec.ignore`): Flux's
//!    default exclusions — image/archive extensions, CI configs and a few tool files;
//! 3. `.sourceignore` files at any depth, each scoped to its own directory (parents first,
//!    then subdirectories in name order);
//! 4. `spec.ignore`, scoped to the root.
//!
//! Patterns have gitignore syntax (`!` re-includes, a trailing `/` matches directories only, a
//! leading `/` anchors to the file's directory) and Flux's matching (go-git's): every path is
//! judged on its own, the last pattern matching the path *or one of its parent directories*
//! decides. Unlike git, a later `!` pattern can therefore re-include a file below an excluded
//! directory — `/*` then `!/src/1.0/` keeps exactly `src/1.0/`, which release channels rely on.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The name of the per-directory ignore file.
pub const IGNORE_FILE: &str = ".sourceignore";
/// Patterns always excluded (Flux `sourceignore.ExcludeVCS`).
pub const EXCLUDE_VCS: &[&str] = &[".git/", ".gitignore", ".gitmodules", ".gitattributes"];
/// File extensions excluded by default (Flux `sourceignore.ExcludeExt`).
pub const EXCLUDE_EXT: &[&str] = &[
    "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
];
/// CI configuration excluded by default (Flux `sourceignore.ExcludeCI`).
pub const EXCLUDE_CI: &[&str] = &[
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
];
/// Tool files excluded by default (Flux `sourceignore.ExcludeExtra`).
pub const EXCLUDE_EXTRA: &[&str] = &["**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml"];

/// A bad pattern or an unreadable ignore file.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// An ignore file could not be read.
    #[error("failed to read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A pattern is not valid gitignore syntax.
    #[error("invalid ignore pattern in {origin} line {line}: {message}")]
    Pattern {
        /// `spec.ignore` or the ignore file's path relative to the root.
        origin: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// One scoped set of rules.
struct Scope {
    /// Directory the patterns are relative to, relative to the root ("" for the root).
    dir: PathBuf,
    /// One matcher per pattern, in file order: go-git's "last pattern matching the path or a
    /// parent" needs each pattern on its own (a combined gitignore only answers per path).
    rules: Vec<Gitignore>,
}

/// The combined ignore rules for one checkout; see the module docs for the order.
pub struct Filter {
    scopes: Vec<Scope>,
    /// Whether any pattern re-includes (`!`): without one, an excluded directory excludes all
    /// below it and the walk may skip it.
    negations: bool,
}

impl Filter {
    /// Builds the rules for the tree at `root`: reads every `.sourceignore` below it and adds
    /// `spec_ignore` (the `spec.ignore` string) last.
    pub fn for_dir(root: &Path, spec_ignore: Option<&str>) -> Result<Self, FilterError> {
        let mut user: Vec<Scope> = Vec::new();
        collect_sourceignore(root, Path::new(""), &mut user)?;
        if let Some(text) = spec_ignore {
            user.push(Scope {
                dir: PathBuf::new(),
                rules: build(root, "spec.ignore", text.lines())?,
            });
        }
        let mut scopes = vec![Scope {
            dir: PathBuf::new(),
            rules: build(root, "default", EXCLUDE_VCS.iter().copied())?,
        }];
        if user.is_empty() {
            let defaults = EXCLUDE_EXT
                .iter()
                .chain(EXCLUDE_CI)
                .chain(EXCLUDE_EXTRA)
                .copied();
            scopes.push(Scope {
                dir: PathBuf::new(),
                rules: build(root, "default", defaults)?,
            });
        }
        scopes.extend(user);
        let negations = scopes
            .iter()
            .flat_map(|s| &s.rules)
            .any(|g| g.num_whitelists() > 0);
        Ok(Self { scopes, negations })
    }

    /// Whether an excluded directory may still hold included files (some pattern re-includes).
    /// When false, a walk can skip excluded directories whole.
    pub fn may_reinclude(&self) -> bool {
        self.negations
    }

    /// Whether `rel` (a path relative to the root, `/`-separated) is excluded: the last pattern
    /// (scopes in priority order, patterns in file order) matching `rel` or one of its parent
    /// directories decides, as in Flux.
    pub fn is_excluded(&self, rel: &Path, is_dir: bool) -> bool {
        for scope in self.scopes.iter().rev() {
            let Ok(inner) = rel.strip_prefix(&scope.dir) else {
                continue;
            };
            if inner.as_os_str().is_empty() {
                continue;
            }
            for rule in scope.rules.iter().rev() {
                match rule.matched_path_or_any_parents(inner, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
        }
        false
    }
}

fn build<'a>(
    root: &Path,
    origin: &str,
    lines: impl Iterator<Item = &'a str>,
) -> Result<Vec<Gitignore>, FilterError> {
    let mut rules = Vec::new();
    for (i, line) in lines.enumerate() {
        let error = |message: String| FilterError::Pattern {
            origin: origin.to_string(),
            line: i + 1,
            message,
        };
        let mut builder = GitignoreBuilder::new(root);
        builder
            .add_line(None, line)
            .map_err(|e| error(e.to_string()))?;
        let rule = builder.build().map_err(|e| error(e.to_string()))?;
        // Comments and blank lines add no pattern.
        if rule.num_ignores() + rule.num_whitelists() > 0 {
            rules.push(rule);
        }
    }
    Ok(rules)
}

/// Reads `<dir>/.sourceignore` then recurses into subdirectories in name order (not `.git`).
fn collect_sourceignore(root: &Path, rel: &Path, out: &mut Vec<Scope>) -> Result<(), FilterError> {
    let dir = root.join(rel);
    let file = dir.join(IGNORE_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let origin = rel.join(IGNORE_FILE).display().to_string();
            out.push(Scope {
                dir: rel.to_path_buf(),
                rules: build(&dir, &origin, text.lines())?,
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(FilterError::Read { path: file, source }),
    }
    let read = std::fs::read_dir(&dir).map_err(|source| FilterError::Read {
        path: dir.clone(),
        source,
    })?;
    let mut subdirs: Vec<String> = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| FilterError::Read {
            path: dir.clone(),
            source,
        })?;
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_dir && name != ".git" {
            subdirs.push(name);
        }
    }
    subdirs.sort();
    for sub in subdirs {
        collect_sourceignore(root, &rel.join(sub), out)?;
    }
    Ok(())
}
