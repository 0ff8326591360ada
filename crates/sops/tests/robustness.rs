//! Bad input never panics: truncated and mutated real files give errors (or parse), and
//! malformed sops envelopes are refused with an error.
#![allow(clippy::unwrap_used)]

use keelson_sops::{Format, Identities, StoreOptions};

fn samples() -> Vec<Vec<u8>> {
    let dir = keelson_testsupport::shared_dir().join("corpus");
    [
        "sops/kustomize-controller/algorithms/age.yaml",
        "sops/kustomize-controller/envs/env.env",
        "sops/kustomize-controller/files/file.txt",
        "charts/podinfo/values.yaml",
        "kustomize/kustomize-examples/wordpress/patch.yaml",
    ]
    .iter()
    .filter_map(|p| std::fs::read(dir.join(p)).ok())
    .collect()
}

#[test]
fn truncated_and_mutated_inputs_do_not_panic() {
    let ids = Identities::parse(
        "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM",
        "test",
    )
    .unwrap();
    let samples = samples();
    assert!(samples.len() >= 4, "corpus samples missing");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let formats = [
        Format::Yaml,
        Format::Json,
        Format::Dotenv,
        Format::Ini,
        Format::Binary,
    ];
    let mut runs = 0;
    for sample in &samples {
        for cut in (0..sample.len()).step_by(13) {
            for f in formats {
                let _ = keelson_sops::format::load_plain(&sample[..cut], f);
                let _ = keelson_sops::decrypt(&sample[..cut], f, &ids, &StoreOptions::default());
                runs += 1;
            }
        }
        for _ in 0..300 {
            let mut m = sample.clone();
            for _ in 0..3 {
                let i = (next() as usize) % m.len().max(1);
                let c = [
                    b':', b'-', b' ', b'\n', b'#', b'"', b'\'', b'[', b'{', b'|', b'&', b'*', b'\t',
                ];
                if !m.is_empty() {
                    m[i] = c[(next() as usize) % c.len()];
                }
            }
            for f in formats {
                let _ = keelson_sops::format::load_plain(&m, f);
                let _ = keelson_sops::decrypt(&m, f, &ids, &StoreOptions::default());
                runs += 1;
            }
        }
    }
    assert!(runs > 1000);
}
