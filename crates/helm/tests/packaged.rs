//! Differential tests of packaged charts against the real helm: subcharts as `.tgz` made by
//! `helm package` (nested two deep), library charts, one chart under two aliases,
//! `import-values` in both forms, conditions and tags, globals, `crds/` of subcharts, hooks;
//! rendering a whole chart from its `.tgz`; refusing missing dependencies as helm does; and the
//! release API ([`keelson_helm::release`]) on the same chart.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{compare_streams, copy_dir, fixtures, helm, objects, package, sources};
use keelson_helm::release::{HookDeletePolicy, HookEvent, render_release_archive};
use keelson_helm::render::{RenderOptions, render};
use keelson_helm::value::Map;

/// The umbrella fixture with its dependencies packaged by helm into `charts/`.
fn umbrella(work: &Path) -> PathBuf {
    let src = fixtures();
    let umbrella = work.join("umbrella");
    copy_dir(&src.join("umbrella"), &umbrella);
    let nested = work.join("nested");
    copy_dir(&src.join("nested"), &nested);
    package(&src.join("nested-inner"), &nested.join("charts"));
    package(&nested, &umbrella.join("charts"));
    for sub in ["sub", "lib", "exporter", "optional"] {
        package(&src.join(sub), &umbrella.join("charts"));
    }
    umbrella
}

fn ours(chart: &Path, sets: &[&str], opts: &RenderOptions) -> Result<String, String> {
    let c = keelson_helm::chart::load_path(chart).map_err(|e| e.to_string())?;
    let mut vals = Map::new();
    for s in sets {
        keelson_helm::values::parse_set(s, &mut vals, false).map_err(|e| e.to_string())?;
    }
    let r = render(c, &vals, opts).map_err(|e| e.to_string())?;
    Ok(r.to_template_output(opts))
}

fn theirs(chart: &Path, sets: &[&str], extra: &[&str]) -> Result<String, String> {
    let mut args = vec![
        "template",
        "rel",
        chart.to_str().unwrap(),
        "--namespace",
        "pkg",
        "--kube-version",
        "1.33.0",
    ];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    args.extend_from_slice(extra);
    helm(&args)
}

fn options() -> RenderOptions {
    RenderOptions {
        release_name: "rel".into(),
        namespace: "pkg".into(),
        kube_version: Some("1.33.0".into()),
        include_crds: true,
        ..RenderOptions::default()
    }
}

#[test]
fn packaged_subcharts_render_like_helm() {
    let tmp = tempfile::tempdir().unwrap();
    let chart = umbrella(tmp.path());
    let value_sets: &[&[&str]] = &[
        &[],
        &["second.enabled=false", "tags.extras=true"],
        &["global.optionalOn=true", "first.greeting=bonjour"],
        &[
            "optional.enabled=true",
            "global.region=us-2",
            "imported.keep=set",
        ],
    ];
    for sets in value_sets {
        let h = theirs(&chart, sets, &["--include-crds"]).unwrap();
        let o = ours(&chart, sets, &options()).unwrap();
        compare_streams(&h, &o).unwrap_or_else(|e| panic!("values {sets:?}: {e}"));
        assert_eq!(
            sources(&h),
            sources(&o),
            "values {sets:?}: order of sources"
        );
    }
}

#[test]
fn whole_chart_from_tgz_renders_like_helm() {
    let tmp = tempfile::tempdir().unwrap();
    let chart = umbrella(tmp.path());
    let tgz = package(&chart, &tmp.path().join("out"));
    let h = theirs(&tgz, &[], &["--include-crds"]).unwrap();
    let o = ours(&tgz, &[], &options()).unwrap();
    compare_streams(&h, &o).unwrap();
    assert_eq!(sources(&h), sources(&o));
}

#[test]
fn missing_dependencies_fail_as_in_helm() {
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("umbrella");
    copy_dir(&fixtures().join("umbrella"), &chart);
    let h = theirs(&chart, &[], &[]).unwrap_err();
    let o = ours(&chart, &[], &options()).unwrap_err();
    let missing = "found in Chart.yaml, but missing in charts/ directory: sub, sub, lib, exporter, optional, nested";
    assert!(h.contains(missing), "helm said: {h}");
    assert!(o.contains(missing), "we said: {o}");
    // one present, the rest missing
    package(&fixtures().join("lib"), &chart.join("charts"));
    let h = theirs(&chart, &[], &[]).unwrap_err();
    let o = ours(&chart, &[], &options()).unwrap_err();
    let missing = "missing in charts/ directory: sub, sub, exporter, optional, nested";
    assert!(h.contains(missing), "helm said: {h}");
    assert!(o.contains(missing), "we said: {o}");
}

#[test]
fn corrupt_archives_are_refused() {
    assert!(keelson_helm::chart::load_archive(b"not a tarball").is_err());
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("umbrella");
    copy_dir(&fixtures().join("umbrella"), &chart);
    std::fs::create_dir_all(chart.join("charts")).unwrap();
    std::fs::write(chart.join("charts/sub-0.1.4.tgz"), b"garbage").unwrap();
    assert!(theirs(&chart, &[], &[]).is_err());
    let e = keelson_helm::chart::load_path(&chart)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sub-0.1.4.tgz"), "{e}");
}

#[test]
fn release_render_separates_crds_manifest_hooks_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let chart = umbrella(tmp.path());
    let tgz = std::fs::read(package(&chart, &tmp.path().join("out"))).unwrap();
    let values = serde_json::json!({"first": {"replicas": 5}});
    let opts = RenderOptions {
        release_name: "rel".into(),
        namespace: "pkg".into(),
        kube_version: Some("1.33.0".into()),
        ..RenderOptions::default()
    };
    let r = render_release_archive(&tgz, values.as_object().unwrap(), &opts).unwrap();
    assert_eq!(r.chart.name, "umbrella");
    assert_eq!(r.chart.version, "1.2.3");
    assert_eq!(r.chart.app_version, "4.5");
    assert_eq!(
        r.crds.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
        [
            "umbrella/crds/widgets.yaml",
            "umbrella/charts/nested/charts/nested-inner/crds/gadgets.yaml"
        ]
    );
    assert_eq!(r.crds[1].objects().unwrap().len(), 1);
    // the manifest is what helm renders without hooks and CRDs
    let vfile = tmp.path().join("v.yaml");
    std::fs::write(&vfile, "first:\n  replicas: 5\n").unwrap();
    let h = theirs(&chart, &[], &["--no-hooks", "-f", vfile.to_str().unwrap()]).unwrap();
    compare_streams(&h, &r.manifest).unwrap();
    assert_eq!(sources(&h), sources(&r.manifest));
    assert_eq!(
        objects(&r.manifest).unwrap().len(),
        r.resources.len(),
        "resources are the manifest's documents"
    );
    let deploy = r
        .resources
        .iter()
        .find(|x| x.kind == "Deployment" && x.content.contains("rel-first"))
        .unwrap();
    assert_eq!(deploy.object().unwrap()["spec"]["replicas"], 5);
    // hooks
    let pre = r.hooks_for(HookEvent::PreUpgrade);
    assert_eq!(pre.len(), 1);
    assert_eq!(pre[0].name, "rel-migrate");
    assert_eq!(pre[0].kind, "Job");
    assert_eq!(pre[0].weight, -5);
    assert_eq!(
        pre[0].delete_policies,
        [
            HookDeletePolicy::BeforeHookCreation,
            HookDeletePolicy::HookSucceeded
        ]
    );
    let post = r.hooks_for(HookEvent::PostInstall);
    assert_eq!(post[0].weight, 3);
    assert_eq!(
        post[0].effective_delete_policies(),
        [HookDeletePolicy::BeforeHookCreation]
    );
    assert!(r.hooks_for(HookEvent::Test)[0].is_test());
    assert_eq!(r.notes.trim(), "Installed rel (1.2.3) into pkg.");
    assert_eq!(r.computed_values["first"]["replicas"], 5);
    assert_eq!(r.chart.helm_json["metadata"]["name"], "umbrella");
}
