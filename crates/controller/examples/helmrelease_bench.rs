//! Times keelson's HelmRelease reconciler on a real control plane, for `bench/helmrelease.sh`.
//!
//! Usage: `helmrelease_bench CHART.tgz VALUES.yaml NAMESPACE RELEASE RUNS [--no-wait]`
//!
//! Runs the HelmRelease reconciler in this process (watching only NAMESPACE, the chart served
//! from the local package as `chartRef` would), then RUNS times: applies the HelmRelease and
//! times until it is Ready with a first release (install); sets
//! `reconcile.fluxcd.io/requestedAt` and times until the reconciler has handled it and is Ready
//! (a no-op reconcile: same chart, same values); deletes the HelmRelease and waits until the
//! release is uninstalled (not timed). Prints one JSON object: `{"install": [seconds...],
//! "noop": [seconds...]}`. Status is polled every 20 ms.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use keelson_api::HelmRelease;
use keelson_controller::chartsource::{ChartArtifact, ChartSource};
use kube::api::{Api, DeleteParams, Patch, PatchParams};

struct LocalChart {
    archive: Vec<u8>,
}

impl ChartSource for LocalChart {
    fn fetch<'a>(&'a self, _: &'a HelmRelease) -> BoxFuture<'a, Result<ChartArtifact, String>> {
        Box::pin(async move {
            Ok(ChartArtifact {
                archive: self.archive.clone(),
                revision: "bench".into(),
                digest: None,
                origin: "local/bench".into(),
                helm_chart: None,
            })
        })
    }
}

fn fail(message: String) -> ! {
    eprintln!("helmrelease_bench: {message}");
    std::process::exit(1)
}

fn ready(hr: &HelmRelease) -> bool {
    hr.status.as_ref().is_some_and(|s| {
        keelson_api::condition::is_true(&s.conditions, "Ready")
            && s.observed_generation == hr.metadata.generation
    })
}

/// Polls until `check` holds for the object (or it is absent, with `want_absent`).
async fn wait_for(
    api: &Api<HelmRelease>,
    name: &str,
    what: &str,
    want_absent: bool,
    check: impl Fn(&HelmRelease) -> bool,
) {
    let start = Instant::now();
    loop {
        match api.get_opt(name).await {
            Ok(Some(hr)) if !want_absent && check(&hr) => return,
            Ok(None) if want_absent => return,
            Ok(Some(hr)) if start.elapsed() > Duration::from_secs(900) => fail(format!(
                "timed out waiting for {what}; status {:?}",
                hr.status
            )),
            _ if start.elapsed() > Duration::from_secs(900) => {
                fail(format!("timed out waiting for {what}"))
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        fail(
            "usage: helmrelease_bench CHART.tgz VALUES.yaml NAMESPACE RELEASE RUNS [--no-wait]"
                .into(),
        );
    }
    let (chart, values, ns, name) = (&args[0], &args[1], &args[2], &args[3]);
    let runs: usize = args[4]
        .parse()
        .unwrap_or_else(|_| fail(format!("RUNS must be a number, not {}", args[4])));
    let no_wait = args.iter().any(|a| a == "--no-wait");
    let archive = std::fs::read(chart).unwrap_or_else(|e| fail(format!("reading {chart}: {e}")));
    let values_text =
        std::fs::read_to_string(values).unwrap_or_else(|e| fail(format!("reading {values}: {e}")));
    let values: serde_json::Value = serde_saphyr::from_str(&values_text)
        .unwrap_or_else(|e| fail(format!("parsing {values}: {e}")));
    // The test environment's control plane (KEELSON_KUBECONFIG, else testenv/up.sh's kubeconfig).
    let client = keelson_testsupport::client().await;
    let storage_dir = std::env::temp_dir().join(format!("keelson-hr-bench-{}", std::process::id()));
    let storage = keelson_source::Storage::new(&storage_dir, "127.0.0.1:1")
        .unwrap_or_else(|e| fail(format!("storage: {e}")));
    let ctx = Arc::new(keelson_controller::Context::new(
        client.clone(),
        storage,
        Duration::from_secs(1),
        Some(ns.clone()),
    ));
    tokio::spawn(keelson_controller::helmrelease::run(
        ctx,
        Arc::new(LocalChart { archive }),
    ));
    let api: Api<HelmRelease> = Api::namespaced(client, ns);
    let mut spec = serde_json::json!({
        "interval": "1h",
        "timeout": "10m",
        "chartRef": {"kind": "OCIRepository", "name": "bench"},
        "values": values,
    });
    if no_wait {
        spec["install"] = serde_json::json!({"disableWait": true});
        spec["upgrade"] = serde_json::json!({"disableWait": true});
    }
    let object = serde_json::json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    });
    let params = PatchParams::apply("keelson-bench").force();
    let (mut install, mut noop) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let start = Instant::now();
        api.patch(name, &params, &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| fail(format!("applying the HelmRelease: {e}")));
        wait_for(&api, name, "install", false, |hr| {
            ready(hr)
                && hr
                    .status
                    .as_ref()
                    .and_then(|s| s.history.first())
                    .is_some_and(|h| h.version == 1)
        })
        .await;
        install.push(start.elapsed().as_secs_f64());

        let token = format!("bench-{run}-{}", std::process::id());
        let start = Instant::now();
        let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| fail(format!("annotating the HelmRelease: {e}")));
        wait_for(&api, name, "no-op reconcile", false, |hr| {
            ready(hr)
                && hr
                    .status
                    .as_ref()
                    .and_then(|s| s.last_handled_reconcile_at.as_deref())
                    == Some(token.as_str())
        })
        .await;
        noop.push(start.elapsed().as_secs_f64());
        let history = api
            .get(name)
            .await
            .ok()
            .and_then(|hr| hr.status)
            .map(|s| s.history.len())
            .unwrap_or(0);
        if history != 1 {
            fail(format!(
                "the no-op reconcile changed the release ({history} history entries)"
            ));
        }

        api.delete(name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| fail(format!("deleting the HelmRelease: {e}")));
        wait_for(&api, name, "uninstall", true, |_| false).await;
        eprintln!(
            "run {}: install {:.2}s, no-op {:.3}s",
            run + 1,
            install[run],
            noop[run]
        );
    }
    let _ = std::fs::remove_dir_all(&storage_dir);
    println!("{}", serde_json::json!({"install": install, "noop": noop}));
}
