//! Differential test of how values become text: the inline values of every HelmRelease in
//! `corpus/flux-repos` (bjw-s app-template above all, whose chart is not in the corpus)
//! rendered through `tests/fixtures/charts/blockscalars`, which repeats app-template's
//! `configMaps`/`secrets` pattern (`tpl (toYaml .data) $ | nindent 2`) and dumps every
//! top-level value as `toYaml`/`toJson` text, so the emitter's output is compared byte for byte
//! (inside the objects) against the real `helm template`.
#![allow(clippy::unwrap_used)]

mod common;
mod corpus;

use keelson_helm::render::{RenderOptions, render};
use keelson_helm::value::Map;

fn ours(chart: &std::path::Path, values: &std::path::Path) -> Result<String, String> {
    let chart = keelson_helm::chart::load_dir(chart).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(values).unwrap();
    let parsed = keelson_helm::yaml::json_numbers(
        keelson_helm::yaml::parse(&text).map_err(|e| e.to_string())?,
    );
    let mut vals = Map::new();
    if let Some(m) = parsed.as_map() {
        keelson_helm::values::merge_maps(&mut vals, &m);
    }
    let opts = RenderOptions {
        release_name: "release".into(),
        namespace: "corpus".into(),
        kube_version: Some("1.33.0".into()),
        ..RenderOptions::default()
    };
    let r = render(chart, &vals, &opts).map_err(|e| e.to_string())?;
    Ok(r.to_template_output(&opts))
}

#[test]
fn release_values_become_the_same_text() {
    let corpus_dir = keelson_testsupport::shared_dir().join("corpus");
    let chart = common::fixtures().join("blockscalars");
    let work = tempfile::tempdir().unwrap();
    let releases = corpus::all_release_values(&corpus_dir);
    let (mut passed, mut failed, mut both_refused) = (0, Vec::new(), 0);
    let indexed: Vec<(usize, &(String, serde_json::Value))> = releases.iter().enumerate().collect();
    let results = common::par_map(&indexed, |(i, (_, values))| {
        let path = work.path().join(format!("{i}.json"));
        std::fs::write(&path, serde_json::to_string(values).unwrap()).unwrap();
        let helm = common::helm(&[
            "template",
            "release",
            chart.to_str().unwrap(),
            "--namespace",
            "corpus",
            "--kube-version",
            "1.33.0",
            "-f",
            path.to_str().unwrap(),
        ]);
        (helm, ours(&chart, &path))
    });
    for ((id, _), (helm, ours)) in releases.iter().zip(results) {
        match (helm, ours) {
            (Ok(h), Ok(o)) => {
                let (hv, ov) = (common::objects(&h), common::objects(&o));
                if hv == ov {
                    passed += 1;
                } else {
                    failed.push(format!("{id}: differs\n--- helm\n{h}\n--- ours\n{o}"));
                }
            }
            (Err(_), Err(_)) => both_refused += 1,
            (Err(e), Ok(_)) => failed.push(format!("{id}: helm failed, we rendered: {e}")),
            (Ok(_), Err(e)) => failed.push(format!("{id}: we failed: {e}")),
        }
    }
    println!(
        "block scalars: {passed} equal, {both_refused} refused by both, {} differ, of {} HelmRelease value sets",
        failed.len(),
        releases.len()
    );
    for f in &failed {
        println!("{}", &f[..f.len().min(6000)]);
    }
    assert!(releases.len() > 100, "too few HelmReleases found");
    assert!(failed.is_empty(), "{} value sets differ", failed.len());
}
