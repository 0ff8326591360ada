//! `values.schema.json` validation of a chart and its subcharts (with their part of the values).

use crate::chart::Chart;
use crate::value::Value;

/// Validates `values` against `chart`'s schema and each subchart's against `values[sub]`,
/// appending failures to `errors` as Helm lists them.
pub fn validate(chart: &Chart, values: &Value, errors: &mut String) {
    if let Some(schema) = &chart.schema {
        let instance = crate::json::to_serde(values);
        match jsonschema::validator_for(schema) {
            Ok(v) => {
                let errs: Vec<String> = v
                    .iter_errors(&instance)
                    .map(|e| format!("- at '{}': {}", e.instance_path(), e))
                    .collect();
                if !errs.is_empty() {
                    errors.push_str(&format!("{}:\n{}\n", chart.name(), errs.join("\n")));
                }
            }
            Err(e) => errors.push_str(&format!("{}: invalid schema: {e}\n", chart.name())),
        }
    }
    for sub in &chart.subcharts {
        let sv = values
            .as_map()
            .and_then(|m| m.get(&sub.name()).cloned())
            .unwrap_or_default();
        validate(sub, &sv, errors);
    }
}
