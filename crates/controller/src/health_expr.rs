//! CEL health checks: `spec.healthCheckExprs` of a Kustomization and `dependsOn[].readyExpr`.
//!
//! Each entry matches objects by API group (the version is ignored) and optionally by kind; an
//! entry naming the kind wins over a group-only entry. The object's top-level fields
//! (`metadata`, `spec`, `status`, …) are the expression's variables. Expressions are evaluated
//! as Flux does: `inProgress`, then `failed`, then `current`; the first that is true decides.
//! An expression that cannot be evaluated (say it reads a field the object does not have yet)
//! leaves the object in progress, so the health check waits, as in Flux.

use std::sync::Arc;

use keelson_api::kustomization::CustomHealthCheck;
use keelson_apply::health::Health;
use keelson_manifest::ObjectId;
use serde_json::Value;

/// A `healthCheckExprs` entry that failed to compile.
#[derive(Debug, thiserror::Error)]
#[error("healthCheckExprs[{index}].{field}: invalid CEL expression: {message}")]
pub struct ExprError {
    /// Index of the entry in `healthCheckExprs`.
    pub index: usize,
    /// `current`, `inProgress`, `failed` or `apiVersion`.
    pub field: &'static str,
    /// The parser's message.
    pub message: String,
}

struct Entry {
    group: String,
    kind: Option<String>,
    current: cel::Program,
    in_progress: Option<cel::Program>,
    failed: Option<cel::Program>,
}

/// Compiled `healthCheckExprs`.
pub struct HealthExprs {
    env: Arc<cel::Env>,
    entries: Vec<Entry>,
}

fn compile(
    env: &cel::Env,
    index: usize,
    field: &'static str,
    source: &str,
) -> Result<cel::Program, ExprError> {
    env.compile(source).map_err(|e| ExprError {
        index,
        field,
        message: e.to_string(),
    })
}

impl HealthExprs {
    /// Compiles every expression, failing on the first that does not parse.
    pub fn compile(checks: &[CustomHealthCheck]) -> Result<Self, ExprError> {
        let env = Arc::new(cel::Env::stdlib());
        let mut entries = Vec::with_capacity(checks.len());
        for (index, check) in checks.iter().enumerate() {
            if check.api_version.trim().is_empty() {
                return Err(ExprError {
                    index,
                    field: "apiVersion",
                    message: "apiVersion is required".into(),
                });
            }
            let (group, _) = keelson_manifest::split_api_version(&check.api_version);
            let optional = |field, source: &Option<String>| {
                source
                    .as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| compile(&env, index, field, s))
                    .transpose()
            };
            entries.push(Entry {
                group: group.to_string(),
                kind: check.kind.clone().filter(|k| !k.is_empty()),
                current: compile(&env, index, "current", &check.current)?,
                in_progress: optional("inProgress", &check.in_progress)?,
                failed: optional("failed", &check.failed)?,
            });
        }
        Ok(Self { env, entries })
    }

    /// Whether no expressions are configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry_for(&self, id: &ObjectId) -> Option<&Entry> {
        let in_group = |e: &&Entry| e.group == id.group;
        self.entries
            .iter()
            .filter(in_group)
            .find(|e| e.kind.as_deref() == Some(id.kind.as_str()))
            .or_else(|| {
                self.entries
                    .iter()
                    .filter(in_group)
                    .find(|e| e.kind.is_none())
            })
    }

    /// The health of `object` by the matching entry, or `None` when no entry matches (then
    /// the built-in kstatus rules apply).
    pub fn judge(&self, id: &ObjectId, object: &Value) -> Option<Health> {
        let entry = self.entry_for(id)?;
        let mut context = cel::Context::with_env(self.env.clone());
        if let Some(fields) = object.as_object() {
            for (name, value) in fields {
                if context.add_variable(name.as_str(), value).is_err() {
                    return Some(Health::InProgress(format!(
                        "field '{name}' cannot be converted for CEL"
                    )));
                }
            }
        }
        let eval = |field: &str, program: &cel::Program| -> Result<bool, String> {
            match program.execute(&context) {
                Ok(cel::Value::Bool(b)) => Ok(b),
                Ok(other) => Err(format!(
                    "{field} expression returned {:?}, not a bool",
                    other.type_of()
                )),
                Err(e) => Err(format!("{field} expression failed: {e}")),
            }
        };
        let outcome = (|| {
            if let Some(p) = &entry.in_progress
                && eval("inProgress", p)?
            {
                return Ok(Health::InProgress("inProgress expression is true".into()));
            }
            if let Some(p) = &entry.failed
                && eval("failed", p)?
            {
                return Ok(Health::Failed("failed expression is true".into()));
            }
            if eval("current", &entry.current)? {
                return Ok(Health::Current);
            }
            Ok(Health::InProgress("current expression is false".into()))
        })();
        Some(outcome.unwrap_or_else(Health::InProgress))
    }
}

/// Evaluates a `dependsOn[].readyExpr` with `dep` (the dependency) and `self` (the dependent).
pub fn ready_expr(source: &str, dependency: &Value, dependent: &Value) -> Result<bool, String> {
    let env = Arc::new(cel::Env::stdlib());
    let program = env
        .compile(source)
        .map_err(|e| format!("invalid readyExpr: {e}"))?;
    let mut context = cel::Context::with_env(env);
    context
        .add_variable("dep", dependency)
        .map_err(|e| e.to_string())?;
    context
        .add_variable("self", dependent)
        .map_err(|e| e.to_string())?;
    match program.execute(&context) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "readyExpr returned {:?}, not a bool",
            other.type_of()
        )),
        Err(e) => Err(format!("readyExpr failed: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(kind: Option<&str>, current: &str, failed: Option<&str>) -> CustomHealthCheck {
        CustomHealthCheck {
            api_version: "bitnami.com/v1alpha1".into(),
            kind: kind.map(str::to_string),
            current: current.into(),
            in_progress: None,
            failed: failed.map(str::to_string),
        }
    }

    fn id(kind: &str) -> ObjectId {
        ObjectId {
            group: "bitnami.com".into(),
            version: "v1alpha1".into(),
            kind: kind.into(),
            namespace: "ns".into(),
            name: "x".into(),
        }
    }

    #[test]
    fn the_flux_sealed_secret_example() {
        let exprs = HealthExprs::compile(&[check(
            Some("SealedSecret"),
            "status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')",
            Some("status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')"),
        )])
        .unwrap();
        let synced = |s: &str| json!({"status": {"conditions": [{"type": "Synced", "status": s}]}});
        assert_eq!(
            exprs.judge(&id("SealedSecret"), &synced("True")),
            Some(Health::Current)
        );
        assert!(matches!(
            exprs.judge(&id("SealedSecret"), &synced("False")),
            Some(Health::Failed(_))
        ));
        // No status yet: evaluation fails, the object is in progress (waits, as Flux does).
        assert!(matches!(
            exprs.judge(&id("SealedSecret"), &json!({"metadata": {"name": "x"}})),
            Some(Health::InProgress(_))
        ));
        // Other kinds of the group fall back to kstatus.
        assert_eq!(exprs.judge(&id("Other"), &synced("True")), None);
    }

    #[test]
    fn kind_entries_win_over_group_entries_and_optional_fields_work() {
        let exprs = HealthExprs::compile(&[
            check(None, "status.?phase.orValue('') == 'Done'", None),
            check(Some("Special"), "spec.ok == true", None),
        ])
        .unwrap();
        let obj = json!({"spec": {"ok": true}, "status": {"phase": "Pending"}});
        assert_eq!(exprs.judge(&id("Special"), &obj), Some(Health::Current));
        assert!(matches!(
            exprs.judge(&id("Anything"), &obj),
            Some(Health::InProgress(_))
        ));
        assert_eq!(
            exprs.judge(&id("Anything"), &json!({"status": {"phase": "Done"}})),
            Some(Health::Current)
        );
        assert_eq!(
            exprs.judge(&id("Anything"), &json!({"status": {}})),
            Some(Health::InProgress("current expression is false".into()))
        );
        // As in Flux, a missing top-level field is an evaluation error: the object waits.
        assert!(matches!(
            exprs.judge(&id("Anything"), &json!({"spec": {}})),
            Some(Health::InProgress(m)) if m.contains("status")
        ));
    }

    #[test]
    fn bad_expressions_are_located() {
        let err = HealthExprs::compile(&[check(None, "status.(", None)])
            .err()
            .unwrap();
        assert_eq!((err.index, err.field), (0, "current"));
        assert!(err.to_string().starts_with("healthCheckExprs[0].current"));
    }

    #[test]
    fn ready_expressions_see_dep_and_self() {
        let dep = json!({"metadata": {"labels": {"app/version": "v1"}}});
        let me = json!({"metadata": {"labels": {"app/version": "v1"}}});
        let expr = "dep.metadata.labels['app/version'] == self.metadata.labels['app/version']";
        assert_eq!(ready_expr(expr, &dep, &me), Ok(true));
        let other = json!({"metadata": {"labels": {"app/version": "v2"}}});
        assert_eq!(ready_expr(expr, &dep, &other), Ok(false));
        assert!(ready_expr("dep.(", &dep, &me).is_err());
    }
}
