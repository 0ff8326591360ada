//! The HTTP file server for artifacts, mounted by the controller.
//!
//! Serves the storage root read-only: `GET /<kind>/<namespace>/<name>/<file>` returns the file
//! (with `Content-Length`, range and `HEAD` support from `tower-http`'s `ServeDir`); anything
//! else is 404. Paths cannot escape the root.

use std::path::PathBuf;

/// A router serving the files under `root`.
pub fn artifact_router(root: impl Into<PathBuf>) -> axum::Router {
    axum::Router::new().fallback_service(tower_http::services::ServeDir::new(root.into()))
}

/// Serves the artifacts under `root` on `listener` until the task is dropped or fails.
pub async fn serve_artifacts(
    listener: tokio::net::TcpListener,
    root: impl Into<PathBuf>,
) -> std::io::Result<()> {
    axum::serve(listener, artifact_router(root)).await
}
