//! The controller's log output.
//!
//! `--log-encoding json` (the default, as Flux's) writes one JSON object per line:
//! `level`, `ts` (RFC 3339), `msg`, then the fields of the spans the line was logged in — a
//! reconcile's `controllerKind`, `name`, `namespace` and `reconcileID` — and the event's own
//! fields. `keelson logs` reads exactly these lines. `--log-encoding console` is tracing's
//! readable format, for a controller run by hand.

use std::io::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// How the controller writes its log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogEncoding {
    /// One JSON object per line (what `keelson logs` reads).
    #[default]
    Json,
    /// Human-readable lines.
    Console,
}

/// The controller's log level, Flux's `--log-level`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    /// Everything keelson logs, including no-op decisions.
    Debug,
    /// Reconcile outcomes and events.
    #[default]
    Info,
    /// Failures only.
    Error,
}

impl LogLevel {
    /// The filter: keelson's crates at this level, dependencies at warnings (errors at `error`).
    fn filter(self) -> String {
        let (ours, theirs) = match self {
            Self::Debug => ("debug", "warn"),
            Self::Info => ("info", "warn"),
            Self::Error => ("error", "error"),
        };
        let crates = [
            "keelson",
            "keelson_controller",
            "keelson_apply",
            "keelson_source",
            "keelson_helm",
            "keelson_kustomize",
            "keelson_sops",
        ];
        std::iter::once(theirs.to_string())
            .chain(crates.iter().map(|c| format!("{c}={ours}")))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Installs the process-wide subscriber writing to stderr. `KEELSON_LOG` (an env-filter
/// directive list) overrides `level` for fine-grained debugging.
pub fn init(encoding: LogEncoding, level: LogLevel) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEELSON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.filter()));
    let registry = tracing_subscriber::registry().with(filter);
    match encoding {
        LogEncoding::Json => registry.with(JsonLines).init(),
        LogEncoding::Console => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .init(),
    }
}

/// The level's name as Flux's (zap's) JSON logs spell it.
pub fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// Fields recorded on a span, kept in its extensions until the span closes.
struct SpanFields(Map<String, Value>);

/// Collects tracing fields into a JSON object.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole cause chain, as the CLI prints errors.
        let mut text = value.to_string();
        let mut cause = value.source();
        while let Some(err) = cause {
            text.push_str(": ");
            text.push_str(&err.to_string());
            cause = err.source();
        }
        self.0.insert(field.name().to_string(), Value::from(text));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), Value::from(format!("{value:?}")));
    }
}

/// The JSON-lines layer.
pub struct JsonLines;

impl<S> Layer<S> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = Map::new();
            attrs.record(&mut Fields(&mut fields));
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut Fields(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(own) = span.extensions().get::<SpanFields>() {
                    fields.extend(own.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut Fields(&mut fields));
        let mut line = Map::new();
        line.insert("level".into(), level_name(event.metadata().level()).into());
        line.insert(
            "ts".into(),
            k8s_openapi::jiff::Timestamp::now().to_string().into(),
        );
        line.insert(
            "msg".into(),
            fields.remove("message").unwrap_or(Value::from("")),
        );
        line.insert("logger".into(), event.metadata().target().into());
        line.extend(fields);
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        // One write per line, so lines from concurrent reconciles never interleave.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}
