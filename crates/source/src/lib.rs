//! Sources: fetching Git repositories, Helm repositories and OCI artifacts.
//!
//! The only keelson crate that does network I/O for content. Produces artifacts: deterministic
//! tarballs with a digest and a Flux-style revision string.
