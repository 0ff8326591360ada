//! Machine formats of a [`Report`]: SARIF 2.1.0 (for code-scanning dashboards) and JUnit XML
//! (for CI test reports). JSON is the report serialized as is.

use serde_json::{Value, json};

use crate::finding::{Report, Severity};
use crate::secrets::RULES;

/// The report as a SARIF 2.1.0 log with one run.
pub fn sarif(report: &Report) -> Value {
    let mut rule_ids: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    rule_ids.sort();
    rule_ids.dedup();
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let description = id
                .strip_prefix("secret/")
                .and_then(|r| RULES.iter().find(|x| x.id == r))
                .map_or_else(|| id.to_string(), |r| r.description.to_string());
            json!({"id": id, "shortDescription": {"text": description}})
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "note",
            };
            let mut region = json!({});
            if f.location.line > 0 {
                region = json!({"startLine": f.location.line});
            }
            json!({
                "ruleId": f.rule,
                "level": level,
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.location.file.to_string_lossy().replace('\\', "/")},
                        "region": region,
                    }
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "keelson validate",
                "informationUri": "https://example.invalid/keelson",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// The report as JUnit XML: one test suite per check category, one failing test case per
/// error or warning (notes are left out), and a passing case for a category without findings.
pub fn junit(report: &Report) -> String {
    use crate::finding::Category;
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"keelson validate\">\n",
    );
    for category in [
        Category::Render,
        Category::Graph,
        Category::Schema,
        Category::Secret,
    ] {
        let findings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.category == category && f.severity != Severity::Info)
            .collect();
        let failures = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
            category.as_str(),
            findings.len().max(1),
        ));
        if findings.is_empty() {
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"keelson\"/>\n",
                category.as_str()
            ));
        }
        for f in findings {
            let name = escape(&format!("{} {}", f.location, f.rule));
            out.push_str(&format!(
                "    <testcase name=\"{name}\" classname=\"{}\" file=\"{}\" line=\"{}\">\n",
                escape(&f.rule),
                escape(&f.location.file.to_string_lossy()),
                f.location.line
            ));
            let tag = if f.severity == Severity::Error {
                "failure"
            } else {
                "skipped"
            };
            out.push_str(&format!(
                "      <{tag} message=\"{}\" type=\"{}\"/>\n",
                escape(&f.message),
                f.severity.as_str()
            ));
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
