//! Packaging a chart's files into a `.tgz` as `helm package` lays it out: every file under a
//! top folder named after the chart. Deterministic (owner 0:0, time 0, mode 0644, names in the
//! order given), so the same files always give the same bytes and digest.

use std::io::Write;

use crate::archive::ArchiveError;

/// Packages `files` (paths relative to the chart root, `/`-separated) under `<name>/`.
pub fn package_chart(name: &str, files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ArchiveError> {
    let werr = |source: std::io::Error| ArchiveError::Write {
        path: std::path::PathBuf::from(name),
        source,
    };
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, data) in files {
        if path.starts_with('/') || path.split('/').any(|p| p == "..") {
            return Err(ArchiveError::UnsafeEntry {
                entry: path.clone(),
            });
        }
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        tar.append_data(&mut header, format!("{name}/{path}"), data.as_slice())
            .map_err(werr)?;
    }
    let mut gz = tar.into_inner().map_err(werr)?;
    gz.flush().map_err(werr)?;
    gz.finish().map_err(werr)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_prefixed() {
        let files = vec![
            (
                "Chart.yaml".to_string(),
                b"name: demo\nversion: 0.1.0\n".to_vec(),
            ),
            (
                "templates/cm.yaml".to_string(),
                b"kind: ConfigMap\n".to_vec(),
            ),
        ];
        let a = package_chart("demo", &files).unwrap();
        assert_eq!(a, package_chart("demo", &files).unwrap());
        let dir = tempfile::tempdir().unwrap();
        crate::archive::unpack(a.as_slice(), dir.path()).unwrap();
        assert!(dir.path().join("demo/templates/cm.yaml").is_file());
        let bad = vec![("../x".to_string(), Vec::new())];
        assert!(package_chart("demo", &bad).is_err());
    }
}
