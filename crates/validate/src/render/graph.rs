//! The dependency graph of a cluster's Kustomizations: dependsOn targets, cycles, sourceRefs
//! and objects deployed twice.

use super::*;

impl Renderer<'_> {
    /// dependsOn targets, cycles, sourceRefs and objects deployed twice.
    pub(super) fn check_graph(&mut self, cluster: &Cluster) {
        let objects: Vec<&Rendered> = cluster
            .objects
            .iter()
            .map(|&i| &self.out.objects[i])
            .collect();
        let mut sources: BTreeSet<(String, String, String)> = BTreeSet::new();
        for r in &objects {
            let (group, _) =
                keelson_manifest::split_api_version(str_at(&r.object, &["apiVersion"]));
            if group == SOURCE_GROUP {
                sources.insert((
                    str_at(&r.object, &["kind"]).to_string(),
                    str_at(&r.object, &["metadata", "namespace"]).to_string(),
                    str_at(&r.object, &["metadata", "name"]).to_string(),
                ));
            }
        }
        // Flux 2.7's ArtifactGenerator (source-watcher) defines one ExternalArtifact per
        // `spec.artifacts[].name`, in its own namespace.
        for r in &objects {
            let (group, _) =
                keelson_manifest::split_api_version(str_at(&r.object, &["apiVersion"]));
            if group == "source.extensions.fluxcd.io"
                && str_at(&r.object, &["kind"]) == "ArtifactGenerator"
            {
                let ns = default_ns(&r.object).to_string();
                for artifact in r
                    .object
                    .pointer("/spec/artifacts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = str_at(artifact, &["name"]);
                    if !name.is_empty() {
                        sources.insert(("ExternalArtifact".into(), ns.clone(), name.to_string()));
                    }
                }
            }
        }
        sources.extend(cluster.local_source.clone());
        sources.extend(
            self.settings
                .local_sources
                .iter()
                .map(|m| (m.kind.clone(), m.namespace.clone(), m.name.clone())),
        );
        let mut findings = Vec::new();
        // A Kustomization reading another source the cluster defines deploys objects (and
        // maybe Kustomizations) the gate cannot see: the cluster is incomplete.
        let mut incomplete = false;
        for &i in &cluster.external {
            let node = &cluster.nodes[i];
            let Some(spec) = &node.spec else { continue };
            let source = source_key(
                &serde_json::to_value(&spec.source_ref).unwrap_or_default(),
                &node.ns,
            );
            if !sources.contains(&source) {
                continue;
            }
            incomplete = true;
            let key = node.key();
            findings.push(
                Finding::new(
                    Category::Render,
                    Severity::Info,
                    "render/external-source",
                    self.node_location(node, "/spec/sourceRef"),
                    format!(
                        "Kustomization {key} reads {}/{}/{}, not this repository; not rendered",
                        source.0, source.1, source.2
                    ),
                )
                .with_object(format!("Kustomization/{key}")),
            );
        }
        // Edges of the dependsOn graph, for the cycle search.
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); cluster.nodes.len()];
        for (i, node) in cluster.nodes.iter().enumerate() {
            let Some(spec) = &node.spec else { continue };
            let key = node.key();
            for (d, dep) in spec.depends_on.iter().enumerate() {
                let dep_ns = dep.namespace.clone().unwrap_or_else(|| node.ns.clone());
                let dep_key = format!("{dep_ns}/{}", dep.name);
                match cluster.index.get(&dep_key) {
                    Some(&j) => edges[i].push(j),
                    None => findings.push(
                        Finding::new(
                            Category::Graph,
                            if incomplete { Severity::Warning } else { Severity::Error },
                            "graph/missing-dependency",
                            self.node_location(node, &format!("/spec/dependsOn/{d}")),
                            format!("Kustomization {key} depends on {dep_key}, which no Kustomization of this cluster defines"),
                        )
                        .with_object(format!("Kustomization/{key}")),
                    ),
                }
            }
            let src = &spec.source_ref;
            let src_ns = src.namespace.clone().unwrap_or_else(|| node.ns.clone());
            if !sources.contains(&(src.kind.clone(), src_ns.clone(), src.name.clone())) {
                findings.push(
                    Finding::new(
                        Category::Graph,
                        Severity::Error,
                        "graph/missing-source",
                        self.node_location(node, "/spec/sourceRef"),
                        format!(
                            "Kustomization {key}: sourceRef {}/{src_ns}/{} is not defined in this cluster",
                            src.kind, src.name
                        ),
                    )
                    .with_object(format!("Kustomization/{key}")),
                );
            }
        }
        for cycle in cycles(&edges) {
            let first = &cluster.nodes[cycle[0]];
            let names: Vec<String> = cycle
                .iter()
                .chain(std::iter::once(&cycle[0]))
                .map(|&i| cluster.nodes[i].key())
                .collect();
            findings.push(
                Finding::new(
                    Category::Graph,
                    Severity::Error,
                    "graph/dependency-cycle",
                    self.node_location(first, "/spec/dependsOn"),
                    format!("dependsOn cycle: {}", names.join(" -> ")),
                )
                .with_object(format!("Kustomization/{}", first.key())),
            );
        }
        // HelmRelease sources.
        for r in &objects {
            let (group, _) =
                keelson_manifest::split_api_version(str_at(&r.object, &["apiVersion"]));
            if group != HELM_GROUP || str_at(&r.object, &["kind"]) != "HelmRelease" {
                continue;
            }
            let hr_ns = str_at(&r.object, &["metadata", "namespace"]);
            let (pointer, src) = match r.object.pointer("/spec/chart/spec/sourceRef") {
                Some(s) => ("/spec/chart/spec/sourceRef", s),
                None => match r.object.pointer("/spec/chartRef") {
                    Some(s) => ("/spec/chartRef", s),
                    None => continue,
                },
            };
            let key = source_key(src, hr_ns);
            if !sources.contains(&key) {
                let id = display_id(&r.object);
                findings.push(
                    Finding::new(
                        Category::Graph,
                        Severity::Error,
                        "graph/missing-source",
                        r.location(self.repo, pointer),
                        format!(
                            "{id}: sourceRef {}/{}/{} is not defined in this cluster",
                            key.0, key.1, key.2
                        ),
                    )
                    .with_object(id),
                );
            }
        }
        // Objects deployed by two Kustomizations.
        let mut owners: HashMap<(String, String, String, String), &Rendered> = HashMap::new();
        for r in &objects {
            let id = ObjectId::of(&r.object);
            let k = (id.group, id.kind, id.namespace, id.name);
            match owners.get(&k) {
                Some(first) if first.owner != r.owner => {
                    let oid = display_id(&r.object);
                    findings.push(
                        Finding::new(
                            Category::Graph,
                            Severity::Error,
                            "graph/duplicate-object",
                            r.location(self.repo, ""),
                            format!(
                                "{oid} is deployed by Kustomization {} and by Kustomization {}",
                                first.owner.as_deref().unwrap_or("?"),
                                r.owner.as_deref().unwrap_or("?")
                            ),
                        )
                        .with_object(oid),
                    );
                }
                Some(_) => {}
                None => {
                    owners.insert(k, r);
                }
            }
        }
        self.out.findings.extend(findings);
    }
}

/// The elementary cycles of a directed graph, each once (smallest node first), found by DFS.
fn cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut found: BTreeSet<Vec<usize>> = BTreeSet::new();
    // 0 unvisited, 1 on stack, 2 done
    let mut state = vec![0u8; edges.len()];
    let mut stack: Vec<usize> = Vec::new();
    fn dfs(
        n: usize,
        edges: &[Vec<usize>],
        state: &mut [u8],
        stack: &mut Vec<usize>,
        found: &mut BTreeSet<Vec<usize>>,
    ) {
        state[n] = 1;
        stack.push(n);
        for &m in &edges[n] {
            if state[m] == 1 {
                if let Some(pos) = stack.iter().position(|&x| x == m) {
                    let mut cycle = stack[pos..].to_vec();
                    if let Some(min) = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, v)| **v)
                        .map(|(i, _)| i)
                    {
                        cycle.rotate_left(min);
                    }
                    found.insert(cycle);
                }
            } else if state[m] == 0 {
                dfs(m, edges, state, stack, found);
            }
        }
        stack.pop();
        state[n] = 2;
    }
    for n in 0..edges.len() {
        if state[n] == 0 {
            dfs(n, edges, &mut state, &mut stack, &mut found);
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cycles_once() {
        let edges = vec![vec![1], vec![2], vec![0], vec![3], vec![]];
        assert_eq!(cycles(&edges), vec![vec![0, 1, 2], vec![3]]);
        assert!(cycles(&[vec![1], vec![]]).is_empty());
    }
}
