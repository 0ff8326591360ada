//! Debug helper: render CHART_DIR [VALUES...] to stdout.
#![allow(clippy::unwrap_used, missing_docs)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let chart = keelson_helm::chart::load_path(std::path::Path::new(&args[1])).unwrap();
    let mut vals = keelson_helm::value::Map::new();
    for f in &args[2..] {
        let v = keelson_helm::yaml::json_numbers(
            keelson_helm::yaml::parse(&std::fs::read_to_string(f).unwrap()).unwrap(),
        );
        keelson_helm::values::merge_maps(&mut vals, &v.as_map().unwrap());
    }
    let opts = keelson_helm::render::RenderOptions {
        release_name: "release".into(),
        namespace: "corpus".into(),
        kube_version: Some("1.33.0".into()),
        ..Default::default()
    };
    match keelson_helm::render::render(chart, &vals, &opts) {
        Ok(r) => print!("{}", r.to_template_output(&opts)),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    }
}
