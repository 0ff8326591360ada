//! The offline gate.
//!
//! Discovers the Flux entry points of a repository, renders them with the pure engines, validates
//! every object against schemas, scans for secrets and checks the dependency graph. Never touches
//! a cluster or the network.
