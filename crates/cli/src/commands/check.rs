//! `keelson check [--pre]`: is the cluster fit for keelson, and is keelson healthy in it?

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use keelson_install::manifests::CONTROLLER_NAME;
use kube::api::Api;

use super::cluster::ClusterArgs;
use super::runtime::block_on;
use crate::Exit;

/// The oldest Kubernetes minor version keelson supports.
pub const MIN_KUBERNETES_MINOR: u32 = 30;

/// Arguments of `keelson check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Check only the prerequisites (before installing).
    #[arg(long)]
    pub pre: bool,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

struct Report {
    failed: bool,
}

impl Report {
    fn ok(&mut self, message: &str) {
        println!("✔ {message}");
    }
    fn fail(&mut self, message: &str) {
        println!("✗ {message}");
        self.failed = true;
    }
}

/// Runs the checks; exit 1 if one fails.
pub fn run(args: &CheckArgs) -> anyhow::Result<Exit> {
    block_on(async {
        let client = args.cluster.client().await?;
        let mut report = Report { failed: false };
        println!("► checking prerequisites");
        match client.apiserver_version().await {
            Ok(info) => {
                let minor: u32 = info.minor.trim_end_matches('+').parse().unwrap_or_default();
                let text = format!(
                    "Kubernetes {} >= 1.{MIN_KUBERNETES_MINOR}",
                    info.git_version
                );
                if info.major == "1" && minor >= MIN_KUBERNETES_MINOR {
                    report.ok(&text);
                } else {
                    report.fail(&format!("{text}: too old"));
                }
            }
            Err(err) => report.fail(&format!("the API server does not answer: {err}")),
        }
        if args.pre {
            return Ok(if report.failed {
                Exit::Failure
            } else {
                Exit::Success
            });
        }
        println!("► checking the controller");
        let deploys: Api<Deployment> = Api::namespaced(client.clone(), &args.cluster.namespace);
        match deploys
            .get_opt(CONTROLLER_NAME)
            .await
            .context("failed to read the controller Deployment")?
        {
            None => report.fail(&format!(
                "{CONTROLLER_NAME} is not installed in {} (run `keelson install`)",
                args.cluster.namespace
            )),
            Some(d) => {
                let image = d
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.spec.as_ref())
                    .and_then(|s| s.containers.first())
                    .and_then(|c| c.image.clone())
                    .unwrap_or_default();
                let value = serde_json::to_value(&d).unwrap_or_default();
                match keelson_apply::health::status_of(&value) {
                    keelson_apply::health::Health::Current => {
                        report.ok(&format!("{CONTROLLER_NAME}: deployment ready"));
                        report.ok(&image);
                    }
                    other => report.fail(&format!("{CONTROLLER_NAME}: {other:?}")),
                }
            }
        }
        println!("► checking crds");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in keelson_api::crds() {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let live = crds
                .get_opt(&name)
                .await
                .with_context(|| format!("failed to read CRD {name}"))?;
            let established = live.as_ref().is_some_and(|c| {
                c.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    })
            });
            let versions: Vec<String> = live
                .map(|c| {
                    c.spec
                        .versions
                        .iter()
                        .filter(|v| v.storage)
                        .map(|v| v.name.clone())
                        .collect()
                })
                .unwrap_or_default();
            if established {
                report.ok(&format!("{name}/{}", versions.join(",")));
            } else {
                report.fail(&format!("{name} is not installed or not established"));
            }
        }
        if report.failed {
            println!("✗ check failed");
            Ok(Exit::Failure)
        } else {
            println!("✔ all checks passed");
            Ok(Exit::Success)
        }
    })
}
