//! `keelson create kustomization|helmrelease|source helm|source oci --export` against the real
//! `flux create … --export` (flux from `testenv/build.sh`): the same flags give the same YAML
//! text, and the flag sets flux refuses are refused. A live create (apply + wait for Ready)
//! of a Kustomization runs against the control plane with the controller in-process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::time::Duration;

fn run(program: &std::path::Path, args: &[&str], home: &std::path::Path) -> Output {
    Command::new(program)
        .args(args)
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Argument lists after `create`; each gets `--export`.
const SAME: &[&[&str]] = &[
    &[
        "kustomization",
        "apps",
        "--source=GitRepository/flux-system",
        "--path=./apps",
        "--prune",
        "--depends-on=infra,team/base",
        "--health-check=Deployment/podinfo.apps",
        "--health-check-timeout=3m",
        "--target-namespace=apps",
        "--wait",
        "--retry-interval=2m",
        "--decryption-provider=sops",
        "--decryption-secret=sops-age",
        "--service-account=sa",
        "--interval=10m",
        "--label=a=b",
    ],
    &[
        "ks",
        "xx",
        "--source=OCIRepository/art.other",
        "--health-check=Deployment/podinfo.apps,StatefulSet/db.data",
        "--health-check-timeout=90s",
    ],
    &["ks", "ab", "--source=ab", "--path=apps"],
    &[
        "ks",
        "ab",
        "--source=gitrepository/ab",
        "--path=/abs",
        "-n",
        "team",
    ],
    &[
        "ks",
        "ab",
        "--source=ab",
        "--depends-on=a/b/c",
        "--kubeconfig-secret-ref=kc",
    ],
    &[
        "ks",
        "ab",
        "--source=Bucket/b",
        "--path=./",
        "--target-namespace=1.0",
    ],
    &[
        "helmrelease",
        "podinfo",
        "--source=HelmRepository/podinfo",
        "--chart=podinfo",
        "--chart-version=>=6.0.0",
        "--target-namespace=apps",
        "--create-target-namespace",
        "--depends-on=infra",
        "--values-from=Secret/vals,ConfigMap/cm",
        "--release-name=pi",
        "--crds=CreateReplace",
    ],
    &[
        "hr",
        "ab",
        "--source=HelmRepository/podinfo.other",
        "--chart=x",
        "--target-namespace=apps",
        "--storage-namespace=st",
    ],
    &[
        "hr",
        "ab",
        "--source=HelmRepository/p",
        "--chart=x",
        "--crds=Skip",
        "--interval=5m",
    ],
    &["hr", "ab", "--chart-ref=HelmChart/c"],
    &[
        "hr",
        "xy",
        "--chart-ref=OCIRepository/podinfo.flux-system",
        "--values=VALUES1",
        "--values=VALUES2",
    ],
    &[
        "hr",
        "zz",
        "--source=GitRepository/repo",
        "--chart=./charts/demo",
        "--reconcile-strategy=Revision",
        "--service-account=sa",
        "--chart-version=1.0",
    ],
    &[
        "source",
        "helm",
        "podinfo",
        "--url=https://stefanprodan.github.io/podinfo",
        "--secret-ref=creds",
        "--pass-credentials",
    ],
    &[
        "source",
        "helm",
        "charts",
        "--url=oci://ghcr.io/stefanprodan/charts",
    ],
    &[
        "source",
        "helm",
        "charts",
        "--url=oci://x",
        "--oci-provider=aws",
        "--label=x=y",
    ],
    &[
        "source",
        "oci",
        "podinfo",
        "--url=oci://ghcr.io/stefanprodan/manifests/podinfo",
        "--tag=6.1.6",
        "--ignore-paths=*.md",
        "--secret-ref=r",
        "--insecure",
    ],
    &[
        "source",
        "oci",
        "p2",
        "--url=oci://ghcr.io/x",
        "--tag-semver=>=1.0",
        "--digest=sha256:abc",
    ],
    &[
        "source",
        "oci",
        "ab",
        "--url=https://x",
        "--tag=1",
        "--provider=aws",
    ],
];

/// Argument lists both tools refuse.
const REFUSED: &[&[&str]] = &[
    &["ks", "yy"],
    &["ks", "x", "--source=ab"],
    &["ks", "ab", "--source=Foo/ab"],
    &["ks", "ab", "--source=ab", "--health-check=Deployment/x"],
    &["ks", "ab", "--source=ab", "--decryption-provider=vault"],
    &["ks", "Upper", "--source=ab"],
    &["hr", "ab", "--source=podinfo", "--chart=x"],
    &["hr", "ab", "--source=HelmRepository/podinfo"],
    &["hr", "ab", "--chart-ref=GitRepository/c"],
    &["source", "helm", "ab", "--url=ftp://x"],
    &["source", "oci", "ab", "--url=oci://x"],
    &[
        "source",
        "git",
        "x",
        "--url=https://example.com/r",
        "--branch=main",
    ],
];

#[test]
fn export_matches_flux_create() {
    let flux = keelson_testsupport::tool("flux");
    let keelson = std::path::PathBuf::from(env!("CARGO_BIN_EXE_keelson"));
    let home = tempfile::tempdir().unwrap();
    let values1 = home.path().join("v1.yaml");
    let values2 = home.path().join("v2.yaml");
    std::fs::write(
        &values1,
        "replicas: 2\nimage:\n  tag: \"1.0\"\n  repo: a\nlist: [1, 2]\n",
    )
    .unwrap();
    std::fs::write(&values2, "image:\n  repo: b\nlist: [3]\nflag: yes\n").unwrap();
    for case in SAME {
        let mut args = vec!["create"];
        for arg in *case {
            args.push(match *arg {
                "--values=VALUES1" => {
                    Box::leak(format!("--values={}", values1.display()).into_boxed_str())
                }
                "--values=VALUES2" => {
                    Box::leak(format!("--values={}", values2.display()).into_boxed_str())
                }
                other => other,
            });
        }
        args.push("--export");
        let reference = run(&flux, &args, home.path());
        assert!(
            reference.status.success(),
            "flux {args:?}: {}",
            text(&reference.stderr)
        );
        let ours = run(&keelson, &args, home.path());
        assert!(
            ours.status.success(),
            "keelson {args:?}: {}",
            text(&ours.stderr)
        );
        assert_eq!(text(&ours.stdout), text(&reference.stdout), "{args:?}");
    }
    for case in REFUSED {
        let mut args = vec!["create"];
        args.extend_from_slice(case);
        args.push("--export");
        let reference = run(&flux, &args, home.path());
        assert!(!reference.status.success(), "flux accepted {args:?}");
        let ours = run(&keelson, &args, home.path());
        assert!(
            !ours.status.success(),
            "keelson accepted {args:?}: {}",
            text(&ours.stdout)
        );
        assert!(ours.stdout.is_empty(), "{args:?}");
    }
}

/// `keelson create kustomization` applies and waits for the controller's verdict: Ready on a
/// good path (exit 0), the controller's message on a missing one (exit 1).
#[tokio::test]
async fn create_kustomization_applies_and_waits() {
    use keelson_testsupport::{TestNamespace, apply, kubeconfig_path};
    let ns = TestNamespace::create("cli-create").await;
    let n = ns.name().to_string();
    let repo = keelson_testsupport::git::TestRepo::new();
    repo.write(
        "deploy/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: made\ndata:\n  a: b\n",
    );
    repo.push("initial");
    let crds: kube::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = kube::Api::all(ns.client());
    for crd in keelson_api::crds() {
        apply(&crds, serde_json::to_value(&crd).unwrap()).await;
    }
    let storage = tempfile::tempdir().unwrap();
    let controller = tokio::spawn(keelson_controller::run(
        ns.client(),
        keelson_controller::ControllerConfig {
            storage_path: storage.path().to_path_buf(),
            storage_addr: "127.0.0.1:0".parse().unwrap(),
            namespace: Some(n.clone()),
            ..Default::default()
        },
    ));
    let keelson = |args: Vec<String>| {
        let config = kubeconfig_path();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_keelson"))
                .args(&args)
                .env("KUBECONFIG", config)
                .output()
                .await
                .unwrap()
        }
    };
    let url = repo.url();
    let out = keelson(vec![
        "create".into(),
        "source".into(),
        "git".into(),
        "repo".into(),
        format!("--url={url}"),
        "--branch=main".into(),
        "-n".into(),
        n.clone(),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = keelson(vec![
        "create".into(),
        "ks".into(),
        "good".into(),
        "--source=repo".into(),
        "--path=deploy".into(),
        "--prune".into(),
        format!("--target-namespace={n}"),
        "-n".into(),
        n.clone(),
        "--timeout=2m".into(),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // flux create's wording: the object is ready, then the revision it applied.
    let stderr = text(&out.stderr);
    assert!(stderr.contains("✔ Kustomization good is ready"), "{stderr}");
    assert!(stderr.contains("✔ applied revision main@sha1:"), "{stderr}");
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = ns.api();
    assert!(cms.get_opt("made").await.unwrap().is_some());
    let out = keelson(vec![
        "create".into(),
        "ks".into(),
        "bad".into(),
        "--source=repo".into(),
        "--path=missing".into(),
        "-n".into(),
        n.clone(),
        "--timeout=2m".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("./missing"),
        "{}",
        text(&out.stderr)
    );
    controller.abort();
    let _ = controller.await;
    let kss: kube::Api<keelson_api::Kustomization> = ns.api();
    for name in ["good", "bad"] {
        let _ = kss
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
            )
            .await;
    }
    let _ = Duration::ZERO;
}
