//! Helm chart rendering.
//!
//! A Go `text/template` engine with Sprig and Helm's own functions, chart loading and value
//! coalescing, producing what `helm template` produces. Pure: no cluster, no network.
