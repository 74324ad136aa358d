//! The vocabulary shared by every stage: records, spans, metrics, tasks.
//! These mirror the WIT `types` interface; `runtime::convert` maps between them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub fn is_error(self) -> bool {
        self >= Level::Error
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub timestamp_ns: i64,
    pub host: String,
    pub environment: String,
    pub source: String,
    pub level: Level,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
}

impl LogRecord {
    /// A bare line of text from `source`: what `casefile mask` and the request
    /// message are masked as.
    pub fn text(source: &str, message: impl Into<String>) -> LogRecord {
        LogRecord {
            timestamp_ns: 0,
            host: String::new(),
            environment: String::new(),
            source: source.into(),
            level: Level::Info,
            message: message.into(),
            trace_id: None,
            span_id: None,
            attributes: vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    pub name: String,
    pub service: String,
    pub host: String,
    pub environment: String,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub error: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
    pub timestamp_ns: i64,
    pub value: f64,
    pub host: String,
    pub environment: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub logs: Vec<LogRecord>,
    pub spans: Vec<Span>,
    pub metrics: Vec<MetricSample>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.logs.len() + self.spans.len() + self.metrics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn extend(&mut self, other: Batch) {
        self.logs.extend(other.logs);
        self.spans.extend(other.spans);
        self.metrics.extend(other.metrics);
    }

    /// Rough size in bytes of the text it carries; the runtime's output cap uses it.
    pub fn approx_bytes(&self) -> usize {
        fn fields(f: &[(String, String)]) -> usize {
            f.iter().map(|(k, v)| k.len() + v.len() + 8).sum()
        }
        let logs: usize = self
            .logs
            .iter()
            .map(|l| {
                64 + l.host.len()
                    + l.environment.len()
                    + l.source.len()
                    + l.message.len()
                    + l.trace_id.as_ref().map_or(0, String::len)
                    + l.span_id.as_ref().map_or(0, String::len)
                    + fields(&l.attributes)
            })
            .sum();
        let spans: usize = self
            .spans
            .iter()
            .map(|s| {
                64 + s.trace_id.len()
                    + s.span_id.len()
                    + s.name.len()
                    + s.service.len()
                    + s.host.len()
                    + s.environment.len()
                    + fields(&s.attributes)
            })
            .sum();
        let metrics: usize = self
            .metrics
            .iter()
            .map(|m| 48 + m.name.len() + m.host.len() + m.environment.len() + fields(&m.labels))
            .sum();
        logs + spans + metrics
    }
}

/// The states of a diagnosis task, persisted on every transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Queued,
    Collecting,
    Masking,
    Reporting,
    Ticketing,
    AwaitingFix,
    Verifying,
    Closed,
    Failed,
}

impl TaskState {
    pub const ALL: [TaskState; 9] = [
        TaskState::Queued,
        TaskState::Collecting,
        TaskState::Masking,
        TaskState::Reporting,
        TaskState::Ticketing,
        TaskState::AwaitingFix,
        TaskState::Verifying,
        TaskState::Closed,
        TaskState::Failed,
    ];

    /// States in which a worker has something to do.
    pub const ACTIVE: [TaskState; 6] = [
        TaskState::Queued,
        TaskState::Collecting,
        TaskState::Masking,
        TaskState::Reporting,
        TaskState::Ticketing,
        TaskState::Verifying,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Collecting => "collecting",
            TaskState::Masking => "masking",
            TaskState::Reporting => "reporting",
            TaskState::Ticketing => "ticketing",
            TaskState::AwaitingFix => "awaiting_fix",
            TaskState::Verifying => "verifying",
            TaskState::Closed => "closed",
            TaskState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegressionStrategy {
    #[default]
    Webhook,
    Command,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
}

/// A validated diagnosis request, as stored with the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisRequest {
    pub error_event_id: String,
    pub tenant: String,
    pub plugin: PluginRef,
    pub environments: Vec<String>,
    pub window: Window,
    #[serde(default)]
    pub trace_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub regression: RegressionStrategy,
}

/// How a source fared in one collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceOutcome {
    pub name: String,
    pub environment: String,
    pub status: SourceStatus,
    pub records: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What kind of failure `error` was (of the source, or of its fallback when both failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<FailureKind>,
    pub component_sha256: String,
    pub elapsed_ms: u64,
}

/// Whether a source's records are in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    /// The source answered.
    Used,
    /// The source failed and its fallback answered.
    Degraded,
    /// Neither the source nor its fallback answered.
    Missing,
}

impl SourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Used => "used",
            SourceStatus::Degraded => "degraded",
            SourceStatus::Missing => "missing",
        }
    }
}

/// What kind of failure a component call ended in: decides retry and fallback,
/// and is what the report's per-source status names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The arguments or settings are wrong: final, no retry, no fallback.
    InvalidInput,
    /// A backend is down or answered badly: retried, then the fallback.
    Unavailable,
    /// The host refused a capability: a policy refusal, not retried.
    Denied,
    /// The component failed in its own way.
    Internal,
    /// The call ran past its deadline (the component's or the collection's).
    Deadline,
    /// The component went over its memory cap.
    Memory,
    /// The component returned more than the output cap.
    OutputTooLarge,
    /// The component trapped.
    Trap,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::InvalidInput => "invalid-input",
            FailureKind::Unavailable => "unavailable",
            FailureKind::Denied => "denied",
            FailureKind::Internal => "internal",
            FailureKind::Deadline => "deadline",
            FailureKind::Memory => "memory",
            FailureKind::OutputTooLarge => "output-too-large",
            FailureKind::Trap => "trap",
        }
    }
}

/// A component that touched the data of a task.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ComponentUse {
    pub kind: String,
    pub name: String,
    pub sha256: String,
}
