//! Differential checks against the tools `keelson validate` replaces in CI, run on the same
//! inputs: schema findings against the real kubeconform, secret findings against the real
//! gitleaks (both built by `testenv/build.sh`). Where the two legitimately differ, the test says
//! why next to the expectation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use keelson_testsupport::tool;
use keelson_validate::render::{self, display_id};
use keelson_validate::repo::Repo;
use keelson_validate::schema::{self, Bundle, Outcome, Validators};
use keelson_validate::{Category, Options, validate};
use serde_json::{Value, json};

fn corpus(rel: &str) -> PathBuf {
    let shared = keelson_testsupport::shared_dir();
    // Canonical, as gitleaks reports it (`/x/main/../shared` would not prefix its paths).
    let path = shared.join("corpus").join(rel);
    path.canonicalize().unwrap_or(path)
}

// ---------------------------------------------------------------------------------------------
// Schemas: keelson's validators against kubeconform, both reading the same converted schemas
// (`schema::kubeconform_files` writes what keelson validates with), so the comparison is of the
// validation engines and of what each reports, not of schema sources.

/// What a validator reports: object id → the JSON pointers of its violations.
type Verdicts = BTreeMap<String, BTreeSet<String>>;

fn keelson_verdicts(objects: &[Value], crds: &[Value], strict: bool) -> Verdicts {
    let mut all = schema::flux_crds();
    all.extend(crds.iter().cloned());
    let mut v = Validators::new(Some(Bundle::builtin().expect("bundle")), &all, strict);
    let mut out = Verdicts::new();
    for o in objects {
        if let Outcome::Invalid(violations) = v.validate(o) {
            out.entry(display_id(o))
                .or_default()
                .extend(violations.into_iter().map(|x| x.pointer));
        }
    }
    out
}

fn kubeconform_verdicts(objects: &[Value], crds: &[Value], strict: bool) -> Verdicts {
    let dir = tempfile::tempdir().expect("tempdir");
    let schemas = dir.path().join("schemas");
    let bundle = Bundle::builtin().expect("bundle");
    for (rel, s) in schema::kubeconform_files(Some(&bundle), crds, strict) {
        let path = schemas.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, serde_json::to_vec(&s).expect("json")).expect("write schema");
    }
    // One file per object: kubeconform's report names file, kind and name (no namespace).
    let input = dir.path().join("objects");
    std::fs::create_dir_all(&input).expect("mkdir");
    for (i, o) in objects.iter().enumerate() {
        std::fs::write(
            input.join(format!("{i}.yaml")),
            keelson_manifest::to_yaml(o),
        )
        .expect("write object");
    }
    let out = Command::new(tool("kubeconform"))
        .arg("-output")
        .arg("json")
        .arg("-ignore-missing-schemas")
        .arg("-schema-location")
        .arg(format!(
            "{}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
            schemas.display()
        ))
        .arg(&input)
        .output()
        .expect("run kubeconform");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "kubeconform output is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut verdicts = Verdicts::new();
    for r in report["resources"].as_array().into_iter().flatten() {
        let status = r["status"].as_str().unwrap_or("");
        assert_ne!(status, "statusError", "kubeconform could not validate: {r}");
        if status != "statusInvalid" {
            continue;
        }
        let file = Path::new(r["filename"].as_str().unwrap_or(""));
        let index: usize = file
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok())
            .expect("kubeconform names the file");
        let id = display_id(&objects[index]);
        let entry = verdicts.entry(id).or_default();
        for e in r["validationErrors"].as_array().into_iter().flatten() {
            entry.insert(e["path"].as_str().unwrap_or("").to_string());
        }
    }
    verdicts
}

/// Objects with one schema fault each (and a few valid edge cases), built-in kinds, Flux kinds
/// and a custom resource whose CRD is given.
fn seeded_objects() -> (Vec<Value>, Vec<Value>) {
    let deployment = |name: &str, spec: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": "web"}, "spec": spec})
    };
    let pod_template = json!({"metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
            "resources": {"limits": {"cpu": 1, "memory": "64Mi"}}}]}});
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["size"], "properties": {
                        "size": {"type": "integer", "minimum": 1},
                        "color": {"type": "string", "enum": ["red", "blue"]},
                        "port": {"x-kubernetes-int-or-string": true},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }}}}}}]}
    });
    let objects = vec![
        // valid: quantities as numbers, int-or-string ports by name
        deployment(
            "valid",
            json!({"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": pod_template}),
        ),
        // a string where an integer is required
        deployment(
            "replicas-string",
            json!({"replicas": "two", "selector": {"matchLabels": {"app": "web"}}, "template": pod_template}),
        ),
        // required fields missing (selector, template)
        deployment("no-selector", json!({"replicas": 1})),
        // a misspelt field: only strict validation refuses it
        deployment(
            "misspelt",
            json!({"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": pod_template, "replica": 3}),
        ),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "web"},
               "spec": {"ports": [{"port": "http", "targetPort": "http"}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-ok", "namespace": "web"},
               "spec": {"ports": [{"port": 80, "targetPort": "http"}]}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "numbers", "namespace": "web"},
               "data": {"count": 3}}),
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "apps", "namespace": "flux-system"},
               "spec": {"interval": "10m", "path": "./apps", "prune": "yes",
                        "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}),
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "no-source", "namespace": "flux-system"},
               "spec": {"interval": "10m", "prune": true}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "flux-system", "namespace": "flux-system"},
               "spec": {"interval": "1m", "url": "https://example.com/repo", "ref": {"branch": "main"}}}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "ok", "namespace": "web"},
               "spec": {"size": 3, "color": "red", "port": "http", "extra": {"anything": [1]}}}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "small", "namespace": "web"},
               "spec": {"size": 0, "color": "green", "port": 1.5}}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "sizeless", "namespace": "web"},
               "spec": {"color": "blue"}}),
        // no schema anywhere: kubeconform skips it (-ignore-missing-schemas), keelson reports
        // schema/unknown-kind (info, error with --strict) — not a verdict either way
        json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
               "spec": {"rules": "not a list"}}),
    ];
    (objects, vec![crd])
}

/// The same objects are invalid for both, and each place kubeconform names is one of ours or
/// holds one of ours. kubeconform reports only the first level of causes of an object's
/// validation error (`for _, ve := range e.Causes` in its validator.go), so a fault reached
/// through a `$ref` is reported where the reference is: `` for the root of a built-in kind's
/// schema (written as `allOf: [$ref]`), `/spec` for a referenced spec; keelson reports each
/// leaf (`/spec/replicas`), which is what a file:line location needs.
fn assert_agree(ours: &Verdicts, theirs: &Verdicts, what: &str) {
    assert_eq!(ids(ours), ids(theirs), "{what}: invalid objects differ");
    for (id, paths) in theirs {
        let mine = &ours[id];
        for p in paths {
            assert!(
                mine.iter()
                    .any(|q| q == p || q.starts_with(&format!("{p}/"))),
                "{what}: {id}: kubeconform reports {p:?}, keelson {mine:?}"
            );
        }
    }
}

fn ids(v: &Verdicts) -> BTreeSet<&str> {
    v.keys().map(String::as_str).collect()
}

#[test]
fn schema_verdicts_agree_with_kubeconform_on_seeded_faults() {
    let (objects, crds) = seeded_objects();
    for strict in [false, true] {
        let ours = keelson_verdicts(&objects, &crds, strict);
        let theirs = kubeconform_verdicts(&objects, &crds, strict);
        assert_agree(&ours, &theirs, &format!("seeded strict={strict}"));
        let mut expected: BTreeSet<&str> = [
            "Deployment/web/replicas-string",
            "Deployment/web/no-selector",
            "Service/web/svc",
            "ConfigMap/web/numbers",
            "Kustomization/flux-system/apps",
            "Kustomization/flux-system/no-source",
            "Widget/web/small",
            "Widget/web/sizeless",
        ]
        .into();
        if strict {
            expected.insert("Deployment/web/misspelt");
        }
        assert_eq!(ids(&ours), expected, "strict={strict}");
    }
}

/// Every object the gate renders from the corpus's Flux repositories (and the CRDs they
/// carry), validated by both.
#[test]
fn schema_verdicts_agree_with_kubeconform_on_the_corpus() {
    for rel in [
        "flux-repos/flux2-kustomize-helm-example",
        "flux-repos/flux2-multi-tenancy",
        "flux-repos/flux2-monitoring-example",
        "flux-repos/flux-local-testdata",
    ] {
        let repo = Repo::scan(&corpus(rel)).expect("scan");
        let rendered = render::render(&repo);
        let objects: Vec<Value> = rendered.objects.into_iter().map(|r| r.object).collect();
        let crds: Vec<Value> = objects
            .iter()
            .filter(|o| o["kind"] == "CustomResourceDefinition")
            .cloned()
            .collect();
        assert!(!objects.is_empty(), "{rel}: nothing rendered");
        for strict in [false, true] {
            let ours = keelson_verdicts(&objects, &crds, strict);
            let theirs = kubeconform_verdicts(&objects, &crds, strict);
            assert_agree(&ours, &theirs, &format!("{rel} strict={strict}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets: keelson's scanner against gitleaks on the same directories. Rules are ours, so the
// comparison maps gitleaks' rule ids onto ours and compares (file, line, rule).

/// gitleaks' rule id → ours, for the formats both cover.
fn our_rule(gitleaks: &str) -> Option<&'static str> {
    Some(match gitleaks {
        "aws-access-token" => "aws-access-key-id",
        "github-pat" | "github-oauth" | "github-app-token" | "github-refresh-token" => {
            "github-token"
        }
        "github-fine-grained-pat" => "github-fine-grained-pat",
        "gitlab-pat" | "gitlab-deploy-token" | "gitlab-ptt" => "gitlab-token",
        "slack-bot-token"
        | "slack-user-token"
        | "slack-app-token"
        | "slack-legacy-token"
        | "slack-config-access-token"
        | "slack-config-refresh-token" => "slack-token",
        "slack-webhook-url" => "slack-webhook",
        "gcp-api-key" => "gcp-api-key",
        "stripe-access-token" => "stripe-key",
        "npm-access-token" => "npm-token",
        "jwt" => "jwt",
        "private-key" => "private-key",
        "age-secret-key" => "age-secret-key",
        "generic-api-key" => "generic-credential",
        "kubernetes-secret-yaml" => "unencrypted-secret",
        _ => return None,
    })
}

/// (file, line, rule) of what gitleaks finds in `dir`.
fn gitleaks_hits(dir: &Path) -> BTreeSet<(String, usize, String)> {
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::new(tool("gitleaks"))
        .args([
            "dir",
            "--no-banner",
            "--exit-code",
            "0",
            "--log-level",
            "error",
        ])
        .args(["--report-format", "json", "--report-path"])
        .arg(report.path())
        .arg(dir)
        .output()
        .expect("run gitleaks");
    assert!(
        out.status.success(),
        "gitleaks failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(report.path()).expect("read gitleaks report");
    let findings: Vec<Value> = serde_json::from_str(&text).expect("gitleaks JSON");
    findings
        .iter()
        .map(|f| {
            let file = Path::new(f["File"].as_str().unwrap_or(""));
            let rel = file.strip_prefix(dir).unwrap_or(file);
            let id = f["RuleID"].as_str().unwrap_or("");
            let line = match id {
                "kubernetes-secret-yaml" => 0,
                _ => f["StartLine"].as_u64().unwrap_or(0) as usize,
            };
            (
                rel.display().to_string(),
                line,
                our_rule(id).map_or_else(|| format!("gitleaks:{id}"), str::to_string),
            )
        })
        .collect()
}

/// keelson's repository hygiene rules (no gitleaks counterpart).
const HYGIENE: &[&str] = &["gitignore-incomplete", "sops-not-fully-encrypted"];

/// (file, line, rule) of the secret findings keelson reports for `dir` (rules without the
/// `secret/` prefix; the SOPS/.gitignore hygiene checks have no gitleaks counterpart).
fn keelson_hits(dir: &Path) -> BTreeSet<(String, usize, String)> {
    let options = Options {
        no_schemas: true,
        ..Options::default()
    };
    validate(dir, &options)
        .expect("validate")
        .findings
        .into_iter()
        .filter(|f| f.category == Category::Secret)
        .filter_map(|f| {
            let rule = f.rule.strip_prefix("secret/")?;
            // Hygiene checks: gitleaks has no rule for a .gitignore or for SOPS files.
            if HYGIENE.contains(&rule) {
                return None;
            }
            // A Secret manifest in plain text: gitleaks' kubernetes-secret-yaml, which points
            // at the document where we point at the data; compared per file.
            if rule == "unencrypted-secret" {
                return Some((f.location.file.display().to_string(), 0, rule.to_string()));
            }
            Some((
                f.location.file.display().to_string(),
                f.location.line,
                rule.to_string(),
            ))
        })
        .collect()
}

/// A directory of seeded credentials, one per format, each in the kind of file it leaks from.
/// Tokens are assembled at run time so this source file holds none.
fn seeded_secrets(dir: &Path) {
    let files: Vec<(&str, String)> = vec![
        (
            "aws.env",
            format!(
                "AWS_ACCESS_KEY_ID={}\n",
                ["AKIA", "Q3W5E7R2T4Y6U7I2"].concat()
            ),
        ),
        (
            "deploy.yaml",
            format!(
                "env:\n- name: GH\n  value: {}\n",
                ["ghp_", "Zq4Xw8Rt2Yp6Lm0Nb3Vc7Kd1Hs5Jf9Gu2Ea4"].concat()
            ),
        ),
        (
            "ci/gitlab.yml",
            format!("token: {}\n", ["glpat-", "x7Kd9Rw2Zp4Vn6Lq8Tb3"].concat()),
        ),
        (
            "slack.txt",
            format!(
                "bot {}\n",
                ["xoxb-", "1234567890123-1234567890123-Ab3dE7gH9jK2mN5pQ8rS1tUv"].concat()
            ),
        ),
        (
            "npmrc",
            format!(
                "//registry.npmjs.org/:_authToken={}\n",
                ["npm_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"].concat()
            ),
        ),
        (
            "keys/id_ed25519",
            [
                "-----BEGIN OPENSSH ",
                "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBvX8VbXq0cVZ1bq5o3XbW8r0N6pYkqL9y2T3f6xJ4k5QAAAJj1w6Qn9cOk\nJwAAAAtzc2gtZWQyNTUxOQAAACBvX8VbXq0cVZ1bq5o3XbW8r0N6pYkqL9y2T3f6xJ4k5Q\n-----END OPENSSH ",
                "PRIVATE KEY-----\n",
            ]
            .concat(),
        ),
        (
            "age.agekey.txt",
            format!(
                "# public key: age1example\n{}\n",
                [
                    "AGE-SECRET-KEY-1",
                    "QYP2ZR9XGF2TVDW0S3JN54KHCE6MUA7LQYP2ZR9XGF2TVDW0S3JN54KHCE"
                ]
                .concat()
            ),
        ),
        (
            "values.yaml",
            format!(
                "database:\n  password: {}\n",
                ["Xk9#", "mQ2vL7pR4tW8zN3b"].concat().replace('#', "q")
            ),
        ),
        // not secrets: references, placeholders, low entropy
        (
            "clean.yaml",
            "password: ${DB_PASSWORD}\ntoken: changeme\napiKey: xxxxxxxxxxxxxxxx\n".to_string(),
        ),
    ];
    for (rel, text) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

#[test]
fn secret_findings_agree_with_gitleaks_on_seeded_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    seeded_secrets(dir.path());
    let ours = keelson_hits(dir.path());
    let theirs = gitleaks_hits(dir.path());
    assert_eq!(ours, theirs);
    // Every seeded credential is found, none of clean.yaml's placeholders.
    let found: Vec<(&str, &str)> = ours
        .iter()
        .map(|(f, _, r)| (f.as_str(), r.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("age.agekey.txt", "age-secret-key"),
            ("aws.env", "aws-access-key-id"),
            ("ci/gitlab.yml", "gitlab-token"),
            ("deploy.yaml", "github-token"),
            ("keys/id_ed25519", "private-key"),
            ("npmrc", "npm-token"),
            ("slack.txt", "slack-token"),
            ("values.yaml", "generic-credential"),
        ]
    );
}

#[test]
fn secret_findings_agree_with_gitleaks_on_the_corpus() {
    let mut differences = Vec::new();
    let mut common = 0;
    for rel in [
        "flux-repos/flux2-kustomize-helm-example",
        "flux-repos/flux2-multi-tenancy",
        "flux-repos/flux2-monitoring-example",
        "flux-repos/flux-local-testdata",
        "sops/kustomize-controller",
        "substitution/fluxcd-pkg",
    ] {
        let ours = keelson_hits(&corpus(rel));
        let theirs = gitleaks_hits(&corpus(rel));
        common += ours.intersection(&theirs).count();
        for (file, line, rule) in ours.difference(&theirs) {
            differences.push(format!("keelson only: {rel}/{file}:{line} {rule}"));
        }
        for (file, line, rule) in theirs.difference(&ours) {
            differences.push(format!("gitleaks only: {rel}/{file}:{line} {rule}"));
        }
    }
    differences.sort();
    let fl = "flux-repos/flux-local-testdata/tests/testdata";
    let kc = "sops/kustomize-controller";
    let pkg = "substitution/fluxcd-pkg/kustomize/testdata";
    let mut expected = vec![
        // gitleaks' generic-api-key takes `key` as a keyword and flags `# public key: age1…`:
        // a public key is no secret.
        format!("gitleaks only: {kc}/keys/age-global.txt:2 generic-credential"),
        format!("gitleaks only: {kc}/keys/age-pq.txt:2 generic-credential"),
        format!("gitleaks only: {kc}/keys/age.txt:2 generic-credential"),
        // `key: ewoJ…` is the base64 of a SOPS-encrypted document (Flux decrypts Secret
        // values encrypted whole, the "inside" fixture): ciphertext, neither a credential
        // nor a plain-text Secret.
        format!("gitleaks only: {kc}/inside/secret.yaml:6 generic-credential"),
        format!("gitleaks only: {kc}/inside/secret.yaml:0 unencrypted-secret"),
        // gitleaks' age rule predates age 1.3's post-quantum identities
        // (AGE-SECRET-KEY-PQ-1…).
        format!("keelson only: {kc}/keys/age-pq.txt:3 age-secret-key"),
        // Secret manifests with `stringData` in plain text: gitleaks' kubernetes-secret-yaml
        // looks for base64 `data:` values only; a committed plaintext Secret leaks either way.
        format!(
            "keelson only: {fl}/cluster/clusters/prod/flux-system/cluster-secrets.yaml:0 unencrypted-secret"
        ),
        format!("keelson only: {fl}/cluster9/apps/podinfo/repository.yaml:0 unencrypted-secret"),
        format!("keelson only: {fl}/repo/cluster-secrets.yaml:0 unencrypted-secret"),
        format!("keelson only: {kc}/algorithms/vault.yaml:0 unencrypted-secret"),
        format!("keelson only: {pkg}/nokustomization/resources/secret.yaml:0 unencrypted-secret"),
        format!("keelson only: {pkg}/relbase/clusters/patches.yaml:0 unencrypted-secret"),
        format!(
            "keelson only: {pkg}/relbase/clusters/staging/flux-system/secret.yaml:0 unencrypted-secret"
        ),
    ];
    expected.sort();
    assert_eq!(differences, expected);
    // What both find: the age and PGP keys of the SOPS fixtures, and cluster8's plain-text
    // podinfo-tls-values Secret.
    assert_eq!(common, 4);
}

/// For `bench/validate.sh` without the CLI: writes kubeconform's schema files (the bundled
/// Kubernetes schemas, Flux's kinds and the CRDs of `$KEELSON_CRDS_FROM`) under
/// `$KEELSON_KUBECONFORM_DIR`, as `keelson schemas --kubeconform-dir` does.
#[test]
#[ignore = "a tool for bench/validate.sh, not a check"]
fn write_kubeconform_schemas() {
    let dir = PathBuf::from(
        std::env::var_os("KEELSON_KUBECONFORM_DIR").expect("KEELSON_KUBECONFORM_DIR"),
    );
    let crds: Vec<Value> = match std::env::var_os("KEELSON_CRDS_FROM") {
        Some(repo) => Repo::scan(Path::new(&repo))
            .expect("scan")
            .documents("apiextensions.k8s.io", "CustomResourceDefinition")
            .map(|(v, _)| v.clone())
            .collect(),
        None => Vec::new(),
    };
    let bundle = Bundle::builtin().expect("bundle");
    for (rel, s) in schema::kubeconform_files(Some(&bundle), &crds, false) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, serde_json::to_vec(&s).expect("json")).expect("write schema");
    }
}

// ---------------------------------------------------------------------------------------------
// HelmReleases: the corpus repository's releases rendered from a chart cache that holds the
// corpus copies of their charts, packaged by the real `helm package`; each release's objects
// against the real `helm template` with the values its HelmRelease carries after kustomize,
// and kubeconform's verdicts on helm's objects against keelson's on its own.

#[test]
fn corpus_helm_releases_agree_with_helm_template_and_kubeconform() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    std::fs::create_dir_all(&cache).expect("mkdir");
    for chart in ["podinfo", "cert-manager", "ingress-nginx"] {
        let out = Command::new(tool("helm"))
            .arg("package")
            .arg(corpus(&format!("charts/{chart}")))
            .arg("--destination")
            .arg(&cache)
            .output()
            .expect("run helm package");
        assert!(
            out.status.success(),
            "helm package {chart}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let repo = Repo::scan(&corpus("flux-repos/flux2-kustomize-helm-example")).expect("scan");
    let rendered = render::render_with(
        &repo,
        &render::Settings {
            chart_cache: Some(cache.clone()),
            ..render::Settings::default()
        },
    );
    // podinfo in staging and production, cert-manager and ingress-nginx in both clusters.
    assert_eq!(rendered.helm_releases, 6, "{:#?}", rendered.findings);
    let releases: Vec<&render::Rendered> = rendered
        .objects
        .iter()
        .filter(|r| r.object["kind"] == "HelmRelease")
        .collect();
    let mut compared = 0;
    for (i, rendered_hr) in releases.iter().enumerate() {
        let hr = &rendered_hr.object;
        let ns = hr["metadata"]["namespace"].as_str().expect("namespace");
        let name = hr["metadata"]["name"].as_str().expect("name");
        let target = hr["spec"]["targetNamespace"].as_str().unwrap_or("");
        let release = match (hr["spec"]["releaseName"].as_str(), target) {
            (Some(r), _) => r.to_string(),
            (None, "") => name.to_string(),
            (None, t) => format!("{t}-{name}"),
        };
        let namespace = if target.is_empty() { ns } else { target };
        let chart = hr["spec"]["chart"]["spec"]["chart"]
            .as_str()
            .expect("chart");
        let archive = std::fs::read_dir(&cache)
            .expect("cache")
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{chart}-")))
            })
            .expect("packaged chart");
        let values = tmp.path().join(format!("values-{i}.json"));
        std::fs::write(
            &values,
            serde_json::to_vec(hr["spec"].get("values").unwrap_or(&json!({}))).expect("json"),
        )
        .expect("write values");
        let out = Command::new(tool("helm"))
            .arg("template")
            .arg(&release)
            .arg(&archive)
            // Test hooks are not rendered by the gate unless spec.test.enable.
            .args([
                "--namespace",
                namespace,
                "--include-crds",
                "--skip-tests",
                "-f",
            ])
            .arg(&values)
            .output()
            .expect("run helm template");
        assert!(
            out.status.success(),
            "helm template {release}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut theirs: Vec<Value> =
            keelson_manifest::parse_documents(&String::from_utf8_lossy(&out.stdout))
                .expect("helm output parses")
                .into_iter()
                .filter(|v| v.is_object())
                .collect();
        let via = format!("HelmRelease {ns}/{name},");
        let mut ours: Vec<Value> = rendered
            .objects
            .iter()
            .filter(|r| {
                r.cluster == rendered_hr.cluster
                    && r.via.as_deref().is_some_and(|v| v.starts_with(&via))
            })
            .map(|r| r.object.clone())
            .collect();
        assert!(!ours.is_empty(), "{via} rendered nothing");
        ours.sort_by_key(display_id);
        theirs.sort_by_key(display_id);
        assert_eq!(
            ours.iter().map(display_id).collect::<Vec<_>>(),
            theirs.iter().map(display_id).collect::<Vec<_>>(),
            "{release}: objects differ"
        );
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, b, "{release}: {} differs", display_id(a));
        }
        let crds: Vec<Value> = ours
            .iter()
            .filter(|o| o["kind"] == "CustomResourceDefinition")
            .cloned()
            .collect();
        let mine = keelson_verdicts(&ours, &crds, false);
        let kubeconform = kubeconform_verdicts(&theirs, &crds, false);
        assert_agree(&mine, &kubeconform, &release);
        compared += 1;
    }
    assert_eq!(compared, 6);
}
