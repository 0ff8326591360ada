//! What no entry point reaches, and repositories without entry points (plain kustomization
//! trees, each built on its own).

use super::*;

impl Renderer<'_> {
    /// What no entry point reaches. A repository with clusters deploys only what their entry
    /// points reach: the Flux objects in files no build read (an `.archive/` folder, a tree no
    /// Kustomization names) are listed as notes, not validated. A repository without any is
    /// a set of plain kustomization trees, each built on its own.
    pub(super) fn unreached(&mut self) {
        if self.clusters == 0 {
            self.plain_trees();
            return;
        }
        let repo = self.repo;
        let mut files: Vec<&PathBuf> = repo.yaml.keys().collect();
        files.sort();
        for rel in files {
            if self.read_all.contains(&repo.root.join(rel)) {
                continue;
            }
            for (i, doc) in repo.yaml[rel].docs.iter().enumerate() {
                let origin = Origin {
                    file: rel.clone(),
                    doc: i,
                };
                let (group, _) =
                    keelson_manifest::split_api_version(str_at(&doc.value, &["apiVersion"]));
                if !group.ends_with(".fluxcd.io")
                    || str_at(&doc.value, &["kind"]).is_empty()
                    || self.entry_docs.contains(&origin)
                {
                    continue;
                }
                let id = display_id(&doc.value);
                let location = repo.location(&origin, "");
                self.finding(
                    Category::Render,
                    Severity::Info,
                    "render/unreachable",
                    location,
                    format!("{id} is in a file no entry point of the repository reaches; not deployed, not validated"),
                    Some(id.clone()),
                );
            }
        }
    }

    /// Builds the kustomization trees no Flux Kustomization reached.
    pub(super) fn plain_trees(&mut self) {
        let repo = self.repo;
        let mut dirs: Vec<PathBuf> = Vec::new();
        for rel in &repo.files {
            let Some(name) = rel.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !KUSTOMIZATION_FILE_NAMES.contains(&name) {
                continue;
            }
            // A Flux Kustomization stored in a file named kustomization.yaml is not one.
            let is_flux = repo.yaml.get(rel).is_some_and(|y| {
                y.docs
                    .iter()
                    .any(|d| str_at(&d.value, &["apiVersion"]).starts_with(KUSTOMIZE_GROUP))
            });
            if !is_flux {
                dirs.push(rel.parent().map(Path::to_path_buf).unwrap_or_default());
            }
        }
        dirs.sort_by_key(|d| (d.components().count(), d.clone()));
        for rel in dirs {
            let dir = repo.root.join(&rel);
            let covered = KUSTOMIZATION_FILE_NAMES
                .iter()
                .any(|n| self.read_all.contains(&dir.join(n)));
            if covered {
                continue;
            }
            let file = KUSTOMIZATION_FILE_NAMES
                .iter()
                .map(|n| rel.join(n))
                .find(|p| repo.yaml.contains_key(p))
                .unwrap_or_else(|| rel.join("kustomization.yaml"));
            let fallback = Location::new(&file, 1);
            let what = format!("kustomization {}", rel.display());
            let Some((objects, read)) = self.build(&dir, None, fallback.clone(), &what) else {
                continue;
            };
            self.out.plain_trees += 1;
            for object in objects {
                let origin = repo.origin_of(&object, &read);
                self.out.objects.push(Rendered {
                    object,
                    origin,
                    fallback: fallback.clone(),
                    owner: None,
                    cluster: None,
                    via: None,
                });
            }
        }
    }
}
