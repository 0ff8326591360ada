//! The SOPS file format.
//!
//! Decrypts (and encrypts) YAML, JSON, dotenv, INI and binary files in the format written by the
//! `sops` tool, with age recipients. Pure: keys are passed in, nothing is read from the
//! environment.
