//! `transform_objects` (a kustomization assembled in memory around objects, as Helm
//! post-renderers use it) against the reference `kustomize build` of the same kustomization
//! written to disk: the outputs must be the same objects in the same order.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use serde_json::{Map, Value, json};

fn objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}},
               "spec": {"selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [
                                         {"name": "app", "image": "nginx:1.27"},
                                         {"name": "side", "image": "ghcr.io/acme/side@sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}}}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "web-config", "namespace": "apps"},
               "data": {"message": "hello"}}),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "apps"},
               "spec": {"ports": [{"port": 80}]}}),
        json!({"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "migrate", "namespace": "apps",
                            "annotations": {"helm.sh/hook": "pre-install"}},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "m", "image": "nginx"}]}}}}),
    ]
}

fn fields() -> Vec<Map<String, Value>> {
    let cases = [
        json!({"images": [{"name": "nginx", "newName": "mirror.example/nginx", "newTag": "9.9"},
                          {"name": "ghcr.io/acme/side", "newTag": "v2"}]}),
        json!({"patches": [
            {"target": {"kind": "Deployment"},
             "patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\n  labels:\n    team: platform\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        env:\n        - name: MODE\n          value: prod\n"},
            {"target": {"kind": "ConfigMap", "name": "web-.*"},
             "patch": "- op: replace\n  path: /data/message\n  value: patched\n"},
            {"target": {"annotationSelector": "helm.sh/hook=pre-install"},
             "patch": "- op: add\n  path: /metadata/labels\n  value: {hooked: \"yes\"}\n"},
            {"patch": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: apps\n$patch: delete\n"}
        ]}),
        json!({"patches": [{"target": {"kind": "Deployment"}, "patch": "- op: frobnicate\n  path: /spec\n"}]}),
    ];
    cases
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect()
}

#[test]
fn transform_objects_matches_kustomize_build() {
    let kustomize = keelson_testsupport::tool("kustomize");
    for (i, fields) in fields().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("objects.yaml"),
            keelson_manifest::to_yaml_stream(&objects()),
        )
        .unwrap();
        let mut k = fields.clone();
        k.insert("resources".into(), json!(["objects.yaml"]));
        std::fs::write(
            dir.path().join("kustomization.yaml"),
            keelson_manifest::to_yaml(&Value::Object(k)),
        )
        .unwrap();
        let reference = Command::new(&kustomize)
            .arg("build")
            .arg(dir.path())
            .output()
            .unwrap();
        let ours = keelson_kustomize::transform_objects(&objects(), &fields);
        match (reference.status.success(), ours) {
            (true, Ok(ours)) => {
                let expected =
                    keelson_manifest::parse_documents(&String::from_utf8_lossy(&reference.stdout))
                        .unwrap();
                assert_eq!(expected, ours, "case {i}");
            }
            (false, Err(e)) => {
                assert!(
                    e.to_string().contains("kustomization.yaml"),
                    "case {i}: {e}"
                );
            }
            (ok, ours) => panic!(
                "case {i}: kustomize succeeded: {ok} ({}), ours: {ours:?}",
                String::from_utf8_lossy(&reference.stderr)
            ),
        }
    }
    assert!(
        keelson_kustomize::transform_objects(&[], &fields()[0])
            .unwrap()
            .is_empty()
    );
}
