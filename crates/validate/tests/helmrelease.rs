//! HelmReleases in the gate: charts in the repository and in a local chart cache rendered with
//! the helm engine (values, valuesFrom, release name and namespace as Flux), their objects
//! schema-validated and secret-scanned at the HelmRelease; every other HelmRelease skipped with
//! its reason. The in-repository chart is also rendered by the real `helm template` and
//! validated by the real kubeconform: same objects, same invalid ones.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use keelson_testsupport::tool;
use keelson_validate::render::{self, display_id};
use keelson_validate::repo::Repo;
use keelson_validate::schema::{self, Bundle, Outcome, Validators};
use keelson_validate::{Options, Report, Severity, validate};
use serde_json::Value;

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create test dirs");
    }
    fs::write(path, text).expect("write test file");
}

/// The 1-based line of the first line of `file` containing `needle`.
fn line_of(dir: &Path, file: &str, needle: &str) -> usize {
    let text = fs::read_to_string(dir.join(file)).expect("read test file");
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in {file}"))
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n    chart: {{ .Chart.Name }}-{{ .Chart.Version }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels:\n      app: {{ .Release.Name }}\n  template:\n    metadata:\n      labels:\n        app: {{ .Release.Name }}\n    spec:\n      containers:\n      - name: app\n        image: {{ .Values.image }}\n        env:\n        - name: ENV\n          value: {{ .Values.env | quote }}\n";
const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n  namespace: {{ .Release.Namespace }}\nspec:\n  selector:\n    app: {{ .Release.Name }}\n  ports:\n  - port: 80\n";

/// A Flux repository: one cluster whose `apps` Kustomization deploys four HelmReleases:
/// `web` (chart `./charts/web` of this repository, values from a ConfigMap that makes
/// `replicas` a string: an invalid Deployment), `web2` (the same chart through a HelmChart
/// with valuesFiles, release name `second`), `cached` (chart `demo` from a HelmRepository,
/// `>=1.0.0 <2`) and `remote` (an OCIRepository chartRef: not available offline).
fn seeded_repo(dir: &Path) {
    let files: &[(&str, &str)] = &[
        (".gitignore", "*.agekey\nkubeconfig\n*.tfstate\n"),
        (
            "clusters/prod/flux-system/gotk-sync.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m\n  url: https://example.com/repo\n  ref:\n    branch: main\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/prod\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
        ),
        (
            "clusters/prod/flux-system/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-sync.yaml\n",
        ),
        (
            "clusters/prod/apps.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
        ),
        (
            "apps/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- values.yaml\n- release.yaml\n- cached.yaml\n- remote.yaml\n- helmchart.yaml\n",
        ),
        (
            "apps/values.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-values\n  namespace: web\ndata:\n  values.yaml: |\n    replicas: many\n    env: prod\n",
        ),
        (
            "apps/release.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n  namespace: web\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: ./charts/web\n      sourceRef:\n        kind: GitRepository\n        name: flux-system\n        namespace: flux-system\n  valuesFrom:\n  - kind: ConfigMap\n    name: web-values\n  values:\n    image: nginx:1.27\n",
        ),
        (
            "apps/cached.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: web\nspec:\n  interval: 1h\n  url: https://charts.example.com\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: cached\n  namespace: web\nspec:\n  interval: 10m\n  targetNamespace: cache\n  chart:\n    spec:\n      chart: demo\n      version: \">=1.0.0 <2\"\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n",
        ),
        (
            "apps/remote.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: remote\n  namespace: web\nspec:\n  interval: 1h\n  url: oci://ghcr.io/example/charts/remote\n  ref:\n    tag: 1.0.0\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: remote\n  namespace: web\nspec:\n  interval: 10m\n  chartRef:\n    kind: OCIRepository\n    name: remote\n",
        ),
        (
            "apps/helmchart.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata:\n  name: web-chart\n  namespace: flux-system\nspec:\n  interval: 10m\n  chart: ./charts/web\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  valuesFiles:\n  - values.yaml\n  - values-prod.yaml\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web2\n  namespace: web\nspec:\n  interval: 10m\n  releaseName: second\n  chartRef:\n    kind: HelmChart\n    name: web-chart\n    namespace: flux-system\n",
        ),
        ("charts/web/values-prod.yaml", "env: from-values-file\n"),
        (
            "charts/web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 0.3.0\n",
        ),
        (
            "charts/web/values.yaml",
            "replicas: 1\nimage: nginx\nenv: dev\n",
        ),
        ("charts/web/templates/deployment.yaml", DEPLOYMENT),
        ("charts/web/templates/service.yaml", SERVICE),
    ];
    for (path, text) in files {
        write(dir, path, text);
    }
}

/// A chart cache as Helm's repository cache keeps it: `demo-<version>.tgz` packaged by the
/// real `helm package`. 1.2.0 (the highest `<2`) renders a ConfigMap named after its version
/// and a Secret carrying a GitHub token in plain text.
fn chart_cache(dir: &Path) -> PathBuf {
    let cache = dir.join("cache");
    fs::create_dir_all(&cache).expect("mkdir cache");
    for version in ["1.0.0", "1.2.0", "2.0.0"] {
        let src = dir.join(format!("src-{version}/demo"));
        write(
            &src,
            "Chart.yaml",
            &format!("apiVersion: v2\nname: demo\nversion: {version}\n"),
        );
        write(&src, "values.yaml", "greeting: hello\n");
        write(
            &src,
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-{{ .Chart.Version }}\n  namespace: {{ .Release.Namespace }}\ndata:\n  release: {{ .Release.Name }}\n  greeting: {{ .Values.greeting }}\n",
        );
        if version == "1.2.0" {
            write(
                &src,
                "templates/secret.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: demo-token\nstringData:\n  token: ghp_{{ \"4kQx9ZpL2mVb7RtY1cWn8HsD3fJg6uAe0iTo\" }}\n",
            );
        }
        let out = Command::new(tool("helm"))
            .arg("package")
            .arg(&src)
            .arg("--destination")
            .arg(&cache)
            .output()
            .expect("run helm package");
        assert!(
            out.status.success(),
            "helm package: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    cache
}

fn run(dir: &Path, cache: Option<PathBuf>) -> Report {
    let options = Options {
        chart_cache: cache,
        ..Options::default()
    };
    validate(dir, &options).expect("validate runs")
}

/// (rule, file:line) of the errors.
fn errors(report: &Report) -> BTreeSet<(String, String)> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.rule.clone(), f.location.to_string()))
        .collect()
}

#[test]
fn charts_in_the_repository_and_the_cache_are_rendered_at_their_helmrelease() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("repo");
    seeded_repo(&dir);
    let cache = chart_cache(tmp.path());
    let report = run(&dir, Some(cache.clone()));
    assert_eq!(report.stats.helm_releases, 3, "{:#?}", report.stats);
    let web = format!(
        "apps/release.yaml:{}",
        line_of(&dir, "apps/release.yaml", "chart: ./charts/web")
    );
    let cached = format!(
        "apps/cached.yaml:{}",
        line_of(&dir, "apps/cached.yaml", "chart: demo")
    );
    assert_eq!(
        errors(&report),
        BTreeSet::from([
            // replicas: many, from the valuesFrom ConfigMap
            ("schema/invalid".to_string(), web.clone()),
            // the token in the cached chart's rendered Secret
            ("secret/github-token".to_string(), cached.clone()),
        ]),
        "{:#?}",
        report.findings
    );
    let invalid = report
        .findings
        .iter()
        .find(|f| f.rule == "schema/invalid")
        .expect("schema finding");
    assert!(
        invalid.message.contains("Deployment/web")
            && invalid.message.contains("web/templates/deployment.yaml")
            && invalid.message.contains("/spec/replicas"),
        "{}",
        invalid.message
    );
    let secret = report
        .findings
        .iter()
        .find(|f| f.rule == "secret/github-token")
        .expect("secret finding");
    assert!(
        !secret.message.contains("4kQx9ZpL"),
        "the secret is not echoed: {}",
        secret.message
    );
    // The OCIRepository chartRef is skipped, with its reason, at the reference.
    let skipped: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "helm/skipped")
        .map(|f| format!("{} {}", f.location, f.message))
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    assert!(
        skipped[0].starts_with(&format!(
            "apps/remote.yaml:{} HelmRelease/web/remote: chartRef OCIRepository/web/remote",
            line_of(&dir, "apps/remote.yaml", "chartRef:")
        )),
        "{skipped:#?}"
    );

    // What was rendered: the highest cached version below 2 into the target namespace, the
    // release named `<targetNamespace>-<name>` as Flux names it.
    let repo = Repo::scan(&dir).expect("scan");
    let out = render::render_with(
        &repo,
        &render::Settings {
            chart_cache: Some(cache),
            ..render::Settings::default()
        },
    );
    let cm = out
        .objects
        .iter()
        .find(|r| r.object["kind"] == "ConfigMap" && r.object["metadata"]["name"] == "demo-1.2.0")
        .expect("demo 1.2.0 rendered");
    assert_eq!(cm.object["metadata"]["namespace"], "cache");
    assert_eq!(cm.object["data"]["release"], "cache-cached");
    // The HelmChart's valuesFiles replace the chart's values.yaml, merged in order.
    let second = out
        .objects
        .iter()
        .find(|r| r.object["kind"] == "Deployment" && r.object["metadata"]["name"] == "second")
        .expect("web2 rendered as release `second`");
    assert_eq!(
        second.object["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "from-values-file"
    );
    assert_eq!(second.object["spec"]["replicas"], 1);
}

#[test]
fn without_a_chart_cache_repository_charts_are_skipped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    seeded_repo(tmp.path());
    let report = run(tmp.path(), None);
    assert_eq!(report.stats.helm_releases, 2, "{:#?}", report.stats);
    let skipped: BTreeSet<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "helm/skipped")
        .map(|f| f.location.to_string())
        .collect();
    assert_eq!(
        skipped,
        BTreeSet::from([
            format!(
                "apps/cached.yaml:{}",
                line_of(tmp.path(), "apps/cached.yaml", "chart: demo")
            ),
            format!(
                "apps/remote.yaml:{}",
                line_of(tmp.path(), "apps/remote.yaml", "chartRef:")
            ),
        ])
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "helm/skipped" && f.message.contains("--chart-cache")),
        "{:#?}",
        report.findings
    );
}

/// A chart path without Chart.yaml is an error at the chart reference.
#[test]
fn missing_chart_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    seeded_repo(tmp.path());
    fs::remove_file(tmp.path().join("charts/web/Chart.yaml")).expect("remove Chart.yaml");
    let report = run(tmp.path(), None);
    let failed: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "helm/render-failed")
        .map(|f| f.location.to_string())
        .collect();
    // Both releases of the chart: at spec.chart.spec.chart and at the chartRef.
    assert_eq!(
        failed,
        [
            format!(
                "apps/helmchart.yaml:{}",
                line_of(tmp.path(), "apps/helmchart.yaml", "chartRef:")
            ),
            format!(
                "apps/release.yaml:{}",
                line_of(tmp.path(), "apps/release.yaml", "chart: ./charts/web")
            ),
        ],
        "{:#?}",
        report.findings
    );
}

/// The in-repository chart rendered by the real `helm template` with the values Flux composes
/// (chart defaults, the ConfigMap's values, then spec.values): the same objects as keelson's
/// render, and kubeconform finds the same one invalid as keelson.
#[test]
fn in_repository_chart_agrees_with_helm_template_and_kubeconform() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("repo");
    seeded_repo(&dir);
    let repo = Repo::scan(&dir).expect("scan");
    let out = render::render(&repo);
    let mut ours: Vec<Value> = out
        .objects
        .iter()
        .filter(|r| {
            r.via
                .as_deref()
                .is_some_and(|v| v.starts_with("HelmRelease web/web,"))
        })
        .map(|r| r.object.clone())
        .collect();
    assert_eq!(ours.len(), 2, "{:#?}", out.findings);

    write(
        tmp.path(),
        "from-configmap.yaml",
        "replicas: many\nenv: prod\n",
    );
    write(tmp.path(), "inline.yaml", "image: nginx:1.27\n");
    let helm = Command::new(tool("helm"))
        .args(["template", "web"])
        .arg(dir.join("charts/web"))
        .args(["--namespace", "web", "-f"])
        .arg(tmp.path().join("from-configmap.yaml"))
        .arg("-f")
        .arg(tmp.path().join("inline.yaml"))
        .output()
        .expect("run helm template");
    assert!(
        helm.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&helm.stderr)
    );
    let mut theirs: Vec<Value> =
        keelson_manifest::parse_documents(&String::from_utf8_lossy(&helm.stdout))
            .expect("helm output parses")
            .into_iter()
            .filter(Value::is_object)
            .collect();
    let key = |v: &Value| display_id(v);
    ours.sort_by_key(key);
    theirs.sort_by_key(key);
    assert_eq!(ours, theirs, "keelson and helm template render differently");

    // kubeconform on helm's objects, with the schemas keelson validates with.
    let schemas = tmp.path().join("schemas");
    let bundle = Bundle::builtin().expect("bundle");
    for (rel, s) in schema::kubeconform_files(Some(&bundle), &[], false) {
        let path = schemas.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, serde_json::to_vec(&s).expect("json")).expect("write schema");
    }
    let input = tmp.path().join("objects");
    fs::create_dir_all(&input).expect("mkdir");
    for (i, o) in theirs.iter().enumerate() {
        fs::write(
            input.join(format!("{i}.yaml")),
            keelson_manifest::to_yaml(o),
        )
        .expect("write");
    }
    let kc = Command::new(tool("kubeconform"))
        .args([
            "-output",
            "json",
            "-ignore-missing-schemas",
            "-schema-location",
        ])
        .arg(format!(
            "{}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
            schemas.display()
        ))
        .arg(&input)
        .output()
        .expect("run kubeconform");
    let report: Value = serde_json::from_slice(&kc.stdout).expect("kubeconform JSON");
    let kubeconform_invalid: BTreeSet<String> = report["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"] == "statusInvalid")
        .map(|r| {
            format!(
                "{}/{}",
                r["kind"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    let mut validators = Validators::new(Some(bundle), &schema::flux_crds(), false);
    let keelson_invalid: BTreeSet<String> = theirs
        .iter()
        .filter(|o| matches!(validators.validate(o), Outcome::Invalid(_)))
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        keelson_invalid,
        BTreeSet::from(["Deployment/web".to_string()])
    );
    assert_eq!(keelson_invalid, kubeconform_invalid);
    // And the gate reports exactly that object, at the HelmRelease.
    let gate = run(&dir, None);
    let located: Vec<String> = gate
        .findings
        .iter()
        .filter(|f| f.rule == "schema/invalid")
        .map(|f| format!("{} {}", f.location, f.object.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        located,
        [format!(
            "apps/release.yaml:{} Deployment/web",
            line_of(&dir, "apps/release.yaml", "chart: ./charts/web")
        )]
    );
}

/// Kustomize post-renderers (patches, images) apply to the release manifest before it is
/// validated, as helm-controller applies them before install: the patch fixes `replicas`.
#[test]
fn post_renderers_apply_before_validation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    seeded_repo(tmp.path());
    let release = tmp.path().join("apps/release.yaml");
    let text = fs::read_to_string(&release).expect("read release");
    fs::write(
        &release,
        format!(
            "{text}  postRenderers:\n  - kustomize:\n      patches:\n      - target:\n          kind: Deployment\n        patch: |\n          - op: replace\n            path: /spec/replicas\n            value: 3\n      images:\n      - name: nginx\n        newTag: \"1.28\"\n"
        ),
    )
    .expect("write release");
    let report = run(tmp.path(), None);
    assert!(errors(&report).is_empty(), "{:#?}", report.findings);
    let repo = Repo::scan(tmp.path()).expect("scan");
    let out = render::render(&repo);
    let web = out
        .objects
        .iter()
        .find(|r| r.object["kind"] == "Deployment" && r.object["metadata"]["name"] == "web")
        .expect("web rendered");
    assert_eq!(web.object["spec"]["replicas"], 3);
    assert_eq!(
        web.object["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    // The Service is untouched and still there.
    assert!(
        out.objects
            .iter()
            .any(|r| r.object["kind"] == "Service" && r.object["metadata"]["name"] == "web")
    );
}

/// Values from a SOPS-encrypted Secret cannot be read offline: the release is skipped, at the
/// valuesFrom entry.
#[test]
fn values_from_an_encrypted_secret_skip_the_release() {
    let tmp = tempfile::tempdir().expect("tempdir");
    seeded_repo(tmp.path());
    write(
        tmp.path(),
        "apps/values.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-values\n  namespace: web\ndata:\n  values.yaml: |\n    replicas: many\n    env: prod\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: web-secret\n  namespace: web\nstringData:\n  values.yaml: ENC[AES256_GCM,data:3q2+7w==,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\nsops:\n  age:\n  - recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n    enc: x\n  lastmodified: \"2026-01-01T00:00:00Z\"\n  mac: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n  version: 3.9.0\n",
    );
    let release = tmp.path().join("apps/release.yaml");
    let text = fs::read_to_string(&release).expect("read release");
    fs::write(
        &release,
        text.replace(
            "  valuesFrom:\n",
            "  valuesFrom:\n  - kind: Secret\n    name: web-secret\n",
        ),
    )
    .expect("write release");
    let report = run(tmp.path(), None);
    let at = format!(
        "apps/release.yaml:{}",
        line_of(tmp.path(), "apps/release.yaml", "kind: Secret")
    );
    assert!(
        report.findings.iter().any(|f| f.rule == "helm/skipped"
            && f.location.to_string() == at
            && f.message.contains("SOPS-encrypted Secret web/web-secret")),
        "{:#?}",
        report.findings
    );
    // Not rendered, so its invalid replicas is not reported.
    assert!(
        !report.findings.iter().any(|f| f.rule == "schema/invalid"),
        "{:#?}",
        report.findings
    );
}

/// A post-renderer that fails is an error at its own entry of `spec.postRenderers`, naming it.
#[test]
fn a_failing_post_renderer_is_located_at_its_entry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    seeded_repo(tmp.path());
    let release = tmp.path().join("apps/release.yaml");
    let text = fs::read_to_string(&release).expect("read release");
    fs::write(
        &release,
        format!(
            "{text}  postRenderers:\n  - kustomize:\n      images:\n      - name: nginx\n        newTag: \"1.28\"\n  - kustomize: # broken\n      patches:\n      - target:\n          kind: Deployment\n        patch: |\n          - op: frobnicate\n            path: /spec\n"
        ),
    )
    .expect("write release");
    let report = run(tmp.path(), None);
    let failed: Vec<(String, String)> = report
        .findings
        .iter()
        .filter(|f| f.rule == "helm/render-failed")
        .map(|f| (f.location.to_string(), f.message.clone()))
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", report.findings);
    assert_eq!(
        failed[0].0,
        format!(
            "apps/release.yaml:{}",
            line_of(tmp.path(), "apps/release.yaml", "- kustomize: # broken")
        )
    );
    assert!(
        failed[0].1.contains("post-renderer 1 failed"),
        "{}",
        failed[0].1
    );
}
