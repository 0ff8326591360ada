//! Kubernetes manifests as data.
//!
//! Parses multi-document YAML into objects, identifies objects by group, kind, namespace and name,
//! and orders them for apply (CRDs and Namespaces before the objects that need them). Pure: no
//! cluster, no network.
