//! Pipeline: the task state machine. Workers claim tasks with work to do (by lease,
//! so several hosts can share one database and any of them resumes a task whose
//! worker died), run the next stage, and persist every transition.
//!
//! queued → collecting → masking → reporting → ticketing → awaiting_fix
//!   → verifying → closed (regression passed) | awaiting_fix (failed); any → failed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::app::App;
use crate::collect::{collect, SourceSpec};
use crate::mask::gate::{Gate, GateOutcome};
use crate::mask::{mask_and_gate, mask_text, review, shadow, Chunking};
use crate::model::{ComponentUse, SourceStatus, TaskState};
use crate::report::{self, ReportInput};
use crate::runtime::bindings::wit;
use crate::outbound::HttpGrant;
use crate::runtime::refusals::Refusals;
use crate::registry::Resolved;
use crate::runtime::{CallGrant, Loaded};
use crate::store::{now_ms, TaskRow};
use crate::{regression, ticket};

/// How a stage failed: worth retrying later, or final for this task.
#[derive(Debug)]
pub enum StageError {
    Retry(String),
    /// Not now, and not a failure: try again later without counting an attempt
    /// (regression paused by its flag).
    Paused(String),
    /// Not a failure: the stage waits on something outside (the ticket system) and
    /// looks again after this many milliseconds, however long that takes.
    Wait(i64),
    Fatal { code: &'static str, message: String },
}

fn fatal(code: &'static str, e: impl std::fmt::Display) -> StageError {
    StageError::Fatal { code, message: e.to_string() }
}

fn retry(e: anyhow::Error) -> StageError {
    StageError::Retry(format!("{e:#}"))
}

pub fn spawn_workers(app: Arc<App>) {
    for n in 0..app.config.pipeline.workers {
        let app = app.clone();
        tokio::spawn(async move { worker(app, n).await });
    }
    tokio::spawn(ticket::poll::poll_forever(app.clone()));
    tokio::spawn(ticket::deliver_forever(app));
}

async fn worker(app: Arc<App>, n: usize) {
    let lease_ms = (app.config.pipeline.lease_seconds * 1000) as i64;
    loop {
        match app.store.claim_task(&app.host_id, lease_ms).await {
            Ok(Some(id)) => {
                tracing::debug!(worker = n, task = %id, "claimed task");
                if let Err(e) = run_claimed(&app, &id, lease_ms).await {
                    tracing::error!(task = %id, error = %format!("{e:#}"), "task step failed");
                }
            }
            Ok(None) => {
                // Nothing to do: sleep until woken by a new task or a short poll, so
                // tasks of hosts that died (expired leases) are also picked up.
                let _ = tokio::time::timeout(Duration::from_millis(500), app.wake.notified()).await;
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot claim tasks");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Runs one claimed task while renewing its lease; stops if the lease is lost.
async fn run_claimed(app: &Arc<App>, id: &str, lease_ms: i64) -> anyhow::Result<()> {
    let heartbeat = {
        let app = app.clone();
        let id = id.to_string();
        async move {
            let every = Duration::from_millis((lease_ms / 3).max(100) as u64);
            loop {
                tokio::time::sleep(every).await;
                match app.store.renew_lease(&id, &app.host_id, lease_ms).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(task = %id, error = %e, "cannot renew lease"),
                }
            }
        }
    };
    let result = tokio::select! {
        r = step(app, id) => r,
        _ = heartbeat => {
            tracing::warn!(task = %id, "lease lost to another host; leaving the task to it");
            return Ok(());
        }
    };
    match result {
        Ok(()) => app.store.release_lease(id, &app.host_id).await?,
        Err(StageError::Retry(msg)) => {
            let task = app.store.task(id).await?.context("task vanished")?;
            if task.attempts >= app.config.pipeline.max_attempts {
                fail(app, id, "retries_exhausted", &format!("gave up after {} attempts: {msg}", task.attempts)).await?;
                app.store.release_lease(id, &app.host_id).await?;
            } else {
                let delay = (1000i64 << task.attempts.clamp(0, 6)).min(60_000);
                tracing::warn!(task = %id, attempt = task.attempts, delay_ms = delay, error = %msg, "will retry");
                app.store.defer(id, &app.host_id, delay).await?;
            }
        }
        Err(StageError::Wait(delay)) => app.store.wait(id, &app.host_id, delay).await?,
        Err(StageError::Fatal { code, message }) => {
            fail(app, id, code, &message).await?;
            app.store.release_lease(id, &app.host_id).await?;
        }
        Err(StageError::Paused(why)) => {
            tracing::info!(task = %id, reason = %why, "paused; queued until it may run");
            app.store.wait(id, &app.host_id, 2_000).await?;
        }
    }
    Ok(())
}

async fn fail(app: &App, id: &str, code: &str, message: &str) -> anyhow::Result<()> {
    tracing::error!(task = %id, code, message, "task failed");
    metrics::counter!("debug_report_failure_total", "code" => code.to_string()).increment(1);
    app.store.fail_task(id, &json!({"code": code, "message": message})).await?;
    if let Some(task) = app.store.task(id).await? {
        crate::notify::send(app, crate::notify::Event::DiagnosisFailed, &task, None, Some(&format!("{code}: {message}"))).await;
    }
    app.audit.append(&app.store, "pipeline", "task.failed", id, json!({"code": code, "message": message})).await
}

/// Does the work the task's state calls for, up to the next resting state.
pub async fn step(app: &App, id: &str) -> Result<(), StageError> {
    let task = app.store.task(id).await.map_err(retry)?.ok_or_else(|| fatal("unknown_task", "task vanished"))?;
    match task.state {
        TaskState::Queued | TaskState::Collecting | TaskState::Masking | TaskState::Reporting => {
            diagnose(app, &task).await?;
            let task = app.store.task(id).await.map_err(retry)?.ok_or_else(|| fatal("unknown_task", "task vanished"))?;
            open_ticket(app, &task).await
        }
        TaskState::Ticketing => open_ticket(app, &task).await,
        TaskState::Verifying => verify(app, &task).await,
        TaskState::AwaitingFix | TaskState::Closed | TaskState::Failed => Ok(()),
    }
}

/// What each environment of the task collects from: the environment's sources (or
/// the tenant's that serve it) with the environment's settings, and the connectors
/// the bindings resolved.
fn plan_for(app: &App, resolved: &Resolved, tenant: &crate::config::TenantBindings, environments: &[String]) -> Result<crate::collect::Plan, StageError> {
    let envs: Vec<String> = if environments.is_empty() { vec![String::new()] } else { environments.to_vec() };
    envs.into_iter()
        .map(|env| {
            let names = tenant.sources_for(&app.config, &env);
            let mut specs = sources_for(app, resolved, &names)?;
            for s in &mut specs {
                s.settings = tenant.settings_for(&app.config, &env, &s.name).to_string();
            }
            Ok((env, specs))
        })
        .collect()
}

/// The sources a task collects from, with the connectors its bindings resolved.
fn sources_for(app: &App, resolved: &Resolved, names: &[String]) -> Result<Vec<SourceSpec>, StageError> {
    fn spec(app: &App, resolved: &Resolved, name: &str, depth: usize) -> Result<SourceSpec, StageError> {
        let c = app.config.sources.get(name).ok_or_else(|| fatal("config", format!("source `{name}` is not configured")))?;
        let connector = resolved
            .connectors
            .get(name)
            .cloned()
            .ok_or_else(|| fatal("config", format!("source `{name}` has no approved connector bound")))?;
        // The config refuses loops; the depth cap is a second guard.
        let fallback = match (&c.fallback, depth) {
            (Some(fb), d) if d < 8 => Some(Box::new(spec(app, resolved, fb, d + 1)?)),
            _ => None,
        };
        Ok(SourceSpec {
            name: name.to_string(),
            connector,
            settings: crate::registry::source_settings(&app.config, name),
            grant: CallGrant {
                dir: c.grant.dir.as_deref().map(|d| app.config.resolve_path(d)),
                http: HttpGrant::new(&c.grant.allow_hosts).with_credential(match &c.grant.credentials {
                    Some(src) => Some(
                        crate::outbound::Credential::resolve(src, &|p| app.config.resolve_path(p))
                            .map_err(|e| fatal("config", format!("source `{name}`: credentials: {e:#}")))?,
                    ),
                    None => None,
                }),
                pseudonym_key: None,
                refusals: Refusals::default(),
            },
            fallback,
            health: app.source_health.of(name),
        })
    }
    names.iter().map(|n| spec(app, resolved, n, 0)).collect()
}

/// Collect, mask, report: from the trigger to a stored report and bundle.
async fn diagnose(app: &App, task: &TaskRow) -> Result<(), StageError> {
    let started = Instant::now();
    let tenant = crate::tenants::lookup(&app.config, &app.store, &task.tenant)
        .await
        .map_err(retry)?
        .ok_or_else(|| fatal("unknown_tenant", format!("tenant `{}` is no longer declared", task.tenant)))?;
    // The components this task runs with are fixed here: a binding that changes
    // while it runs takes effect for the next task.
    let resolved = app
        .registry
        .resolve(&app.config, &app.runtime, &app.store, &task.tenant)
        .await
        .map_err(|e| fatal("config", format!("{e:#}")))?;
    let maskers = resolved.maskers.clone();
    if maskers.is_empty() {
        return Err(fatal(
            "config",
            format!("tenant `{}` has no approved masker bound (its bindings, the config and the default name none that may run)", task.tenant),
        ));
    }
    let plan = plan_for(app, &resolved, &tenant, &task.request.environments)?;

    app.store.set_state(&task.id, TaskState::Collecting, None).await.map_err(retry)?;
    let span = tracing::info_span!("collect", task = %task.id);
    let collected = if app.flag(crate::flags::OBSERVABILITY_V2).await {
        let _e = span.enter();
        collect(
            &app.runtime,
            &plan,
            &task.request,
            crate::collect::Limits { source: app.config.pipeline.source_limit, report: app.config.pipeline.report_limit },
            Duration::from_millis(app.config.pipeline.collect_deadline_ms),
            Duration::from_millis(app.config.pipeline.max_clock_skew_ms),
        )
        .await
    } else {
        // The report then holds the trigger's own data, and each source says why.
        crate::collect::disabled(&plan, crate::flags::OBSERVABILITY_V2)
    };
    let sources: Vec<SourceSpec> = plan.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
    audit_refusals(app, &task.id, &sources).await.map_err(retry)?;

    app.store.set_state(&task.id, TaskState::Masking, None).await.map_err(retry)?;
    let key = match &tenant.pseudonym_key {
        Some(k) => hex::decode(k).map_err(|e| fatal("config", format!("pseudonym_key: {e}")))?,
        None => app.store.tenant_key(&task.tenant, &app.master).await.map_err(retry)?,
    };
    let policy = crate::mask::versions::current(&app.store, &app.template.masking, &task.tenant).await.map_err(retry)?;
    // The layout is fixed with the policy: a change made while this task runs is
    // for the next one.
    let layout = report::layout::current(&app.store, &app.template, &task.tenant).await.map_err(retry)?;
    let masking = policy.policy.as_masking();
    let gate = Gate::for_policy(&masking.policy_json, key.clone()).map_err(|e| fatal("config", format!("masking policy of `{}`: {e}", task.tenant)))?;
    let gate = Arc::new(gate.trusting_default_masker(app.runtime.limits().gate_trusts_default_masker));
    // The key stays in the host: the masker asks for pseudonyms through its import.
    let ctx = wit::MaskContext { tenant: task.tenant.clone(), policy: masking.policy_json.clone() };
    let key: Arc<[u8]> = key.into();
    // A shadow chain masks a copy of the same records; only the differences are kept.
    let original = (!resolved.shadow.is_empty()).then(|| collected.batch.clone());
    let (batch, mut summary, mut gated) =
        mask_and_gate(&app.runtime, &maskers, &ctx, &key, &gate, collected.batch, Chunking::of(&app.runtime))
            .await
            .map_err(|e| fatal("masking_failed", format!("{e:#}")))?;
    if let Some(original) = original {
        let diff = shadow::run(&app.runtime, &resolved.shadow, &ctx, &key, &original, &batch, &summary, Chunking::of(&app.runtime)).await;
        let hashes = |c: &[Arc<Loaded>]| c.iter().map(|l| l.sha256.clone()).collect::<Vec<_>>();
        metrics::counter!("casefile_shadow_runs_total", "outcome" => if diff.error.is_some() { "failed" } else { "compared" }).increment(1);
        shadow::record(&app.store, &task.id, &task.tenant, &hashes(&maskers), &hashes(&resolved.shadow), &diff).await.map_err(retry)?;
    }
    summary.gate.fail_closed = masking.fail_closed;
    summary.policy_version = Some(policy.version);
    // The trigger's own message leaves the host in the report too.
    let masked_message = match &task.request.message {
        Some(m) => {
            let (mut masked, counts) = mask_text(&app.runtime, &maskers, &ctx, &key, m).await.map_err(|e| fatal("masking_failed", format!("{e:#}")))?;
            summary.add(counts);
            gate.check(|| "request.message".into(), None, &mut masked, &mut gated);
            Some(masked)
        }
        None => None,
    };
    let sampled = review::sample(&batch.logs, masking.review_sample_rate);
    review::enqueue(&app.store, &task.tenant, &task.id, &sampled).await.map_err(retry)?;

    app.store.set_state(&task.id, TaskState::Reporting, None).await.map_err(retry)?;
    let using = |slot: String, c: &Loaded| ComponentUse { slot, kind: c.kind.as_str().into(), name: c.name.clone(), sha256: c.sha256.clone() };
    let mut components: Vec<ComponentUse> = maskers.iter().map(|m| using("masker".into(), m)).collect();
    for o in collected.outcomes.iter().filter(|o| o.status != SourceStatus::Missing) {
        let used = sources.iter().find(|s| s.name == o.name).map(|s| match &o.fallback {
            Some(fb_name) => s.chain().find(|x| x.name == *fb_name).map_or((s.name.clone(), &s.connector), |fb| (fb.name.clone(), &fb.connector)),
            None => (s.name.clone(), &s.connector),
        });
        if let Some((source, c)) = used {
            components.push(using(format!("source:{source}"), c));
        }
    }
    // The mapper that will file this task's ticket is fixed now too.
    if let Some(m) = &resolved.mapper {
        components.push(using("ticket-mapper".into(), m));
    }
    components.sort();
    components.dedup();
    let mut built = report::build(
        &app.template.with_layout(&layout.layout),
        &ReportInput {
            task_id: &task.id,
            request: &task.request,
            masked_message,
            batch: &batch,
            sources: &collected.outcomes,
            planned: &plan.iter().map(|(env, s)| (env.clone(), s.iter().map(|x| x.name.clone()).collect())).collect::<Vec<_>>(),
            masking: &summary,
            components: &components,
            clock: &collected.clock,
            truncated: collected.truncated.as_ref(),
            generated_at: chrono::Utc::now(),
        },
    );
    built.report.template_version = Some(layout.version);
    // Last look at everything the report publishes (request fields, source errors,
    // titles), then the Markdown is rendered again from what the gate let through.
    let mut late = GateOutcome::default();
    let mut scanned = serde_json::to_value(&built.report).map_err(|e| fatal("report_failed", e))?;
    gate.scan_json("report", &mut scanned, &mut late);
    if late.total() > 0 {
        // What the gate masked goes back into the typed report; a value that no
        // longer fits the report's shape holds the report back rather than leak.
        built.report = report::Report::from_stored(&scanned).map_err(|e| fatal("report_failed", format!("{e:#}")))?;
        built.markdown = report::markdown(&built.report);
    }
    gated.merge(late);
    if gated.total() > 0 {
        record_violations(app, task, &gated, masking.fail_closed).await.map_err(retry)?;
        if masking.fail_closed {
            return Err(fatal(
                "masking_violation",
                format!(
                    "the leak gate found {} value(s) the masker `{}` let through (rules: {}); under the tenant's fail-closed policy the report is held back. Fix the masker or its policy and open the diagnosis again.",
                    gated.total(),
                    maskers.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(" + "),
                    gated.by_rule.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if let Some(m) = built.report.masking.as_mut() {
            m.gate.violations = gated.total();
            m.gate.by_rule = gated.by_rule.clone();
        }
        built.markdown = report::markdown(&built.report);
    }
    let bundle = report::bundle(&built, &batch, &components).map_err(|e| fatal("report_failed", format!("{e:#}")))?;
    let bundle_sha = app.store.put_blob(&bundle).map_err(retry)?;
    let report_json = serde_json::to_value(&built.report).map_err(|e| fatal("report_failed", e))?;
    app.store
        .save_report(&task.id, &report_json, &built.markdown, &bundle_sha, &built.fingerprint, &json!(components))
        .await
        .map_err(retry)?;
    let since_trigger = (now_ms() - task.created_at).max(0) as f64;
    metrics::histogram!("debug_report_generate_ms").record(since_trigger);
    tracing::info!(task = %task.id, records = batch.len(), masked = summary.total, ms = started.elapsed().as_millis() as u64, since_trigger_ms = since_trigger, "report ready");
    app.store.set_state(&task.id, TaskState::Ticketing, None).await.map_err(retry)?;
    Ok(())
}


/// Audits what the sandbox refused each source's connector (and its fallback)
/// during collection: which source, which component, what it asked for, why not.
async fn audit_refusals(app: &App, task_id: &str, sources: &[SourceSpec]) -> anyhow::Result<()> {
    // Gathered before the first await: the iterator's closures are not `Send`.
    let mut refused = Vec::new();
    for s in sources {
        for spec in s.chain() {
            refused.extend(spec.grant.refusals.drain().into_iter().map(|r| (spec, r)));
        }
    }
    for (spec, refusal) in refused {
        {
            metrics::counter!("casefile_sandbox_refusals_total", "kind" => refusal.kind).increment(1);
            tracing::warn!(source = %spec.name, component = %spec.connector.name, kind = refusal.kind, target = %refusal.target, "sandbox refused a component");
            app.audit
                .append(
                    &app.store,
                    "sandbox",
                    "sandbox.refused",
                    task_id,
                    json!({
                        "source": spec.name, "component": spec.connector.name, "sha256": spec.connector.sha256,
                        "kind": refusal.kind, "target": refusal.target, "reason": refusal.reason,
                    }),
                )
                .await?;
        }
    }
    Ok(())
}

/// Counts and audits what the gate caught: rule and position, never the value.
async fn record_violations(app: &App, task: &TaskRow, gated: &GateOutcome, fail_closed: bool) -> anyhow::Result<()> {
    for (rule, n) in &gated.by_rule {
        metrics::counter!("debug_masking_violation_total", "tenant" => task.tenant.clone(), "rule" => rule.clone()).increment(*n);
    }
    tracing::warn!(task = %task.id, violations = gated.total(), fail_closed, "leak gate masked values the masker let through");
    let positions: Vec<_> = gated.violations.iter().take(1000).collect();
    app.audit
        .append(&app.store, "gate", "masking.violation", &task.id, json!({"tenant": task.tenant, "total": gated.total(), "by_rule": gated.by_rule, "violations": positions, "fail_closed": fail_closed}))
        .await
}

/// Queues the task's ticket action and waits, in `ticketing`, until the outbox has
/// delivered it: an outage of the ticket system holds the task here, it does not
/// fail it. A refusal by the ticket system fails the task with the answer.
async fn open_ticket(app: &App, task: &TaskRow) -> Result<(), StageError> {
    if ticket::target(app, task).await.map_err(retry)?.is_none() {
        if !app.flag(crate::flags::TICKET_BRIDGE).await {
            crate::notify::send(app, crate::notify::Event::ManualHandOff, task, None, None).await;
        }
        return app.store.set_state(&task.id, TaskState::AwaitingFix, None).await.map_err(retry);
    }
    if task.state != TaskState::Ticketing {
        app.store.set_state(&task.id, TaskState::Ticketing, None).await.map_err(retry)?;
    }
    let entry = ticket::enqueue(app, task).await.map_err(retry)?;
    match entry.state.as_str() {
        "delivered" => app.store.set_state(&task.id, TaskState::AwaitingFix, None).await.map_err(retry),
        // Without its create there is no ticket: the task fails with the answer.
        "rejected" if entry.action == "create" => {
            Err(fatal("ticket_rejected", format!("the ticket create was refused: {}", entry.answer.unwrap_or_default())))
        }
        // The ticket exists; only this comment or reopen was refused: recorded, and
        // the task waits for its fix like any other.
        "rejected" => {
            let detail = format!("the ticket {} was refused: {}", entry.action, entry.answer.unwrap_or_default());
            app.store.set_state(&task.id, TaskState::AwaitingFix, Some(&detail)).await.map_err(retry)
        }
        "cancelled" => app.store.set_state(&task.id, TaskState::AwaitingFix, Some("ticket delivery cancelled; hand the report off manually")).await.map_err(retry),
        _ => {
            if entry.attempts > 0 {
                note_waiting(app, task, &entry).await.map_err(retry)?;
            }
            // The outbox wakes the task when the entry ends; this is the fallback poll.
            Err(StageError::Wait(app.config.ticket.retry_max_ms.clamp(200, 5_000) as i64))
        }
    }
}

/// `ticketing: waiting for the ticket system since ...` in the task's history, once
/// per wait (not at every look).
async fn note_waiting(app: &App, task: &TaskRow, entry: &crate::store::OutboxEntry) -> anyhow::Result<()> {
    let history = app.store.task_events(&task.id).await?;
    let noted = history.last().is_some_and(|(_, _, d)| is_wait_note(d.as_deref()));
    if !noted {
        app.store.set_state(&task.id, task.state, Some(&ticket::waiting_detail(entry))).await?;
    }
    Ok(())
}

/// Whether a history line is `note_waiting`'s (a note, not a change of state).
fn is_wait_note(detail: Option<&str>) -> bool {
    detail.is_some_and(|d| d.starts_with("ticketing: waiting"))
}

/// How many times the task has entered `verifying`: names one verification, so a
/// retried stage queues its close or comment once. The waiting notes written in
/// `verifying` are not entries (counted, they renamed the close mid-wait, so the
/// regression ran again and the task closed before its ticket).
async fn verification(app: &App, task: &TaskRow) -> anyhow::Result<usize> {
    Ok(app.store.task_events(&task.id).await?.iter().filter(|(_, s, d)| s == "verifying" && !is_wait_note(d.as_deref())).count())
}

async fn verify(app: &App, task: &TaskRow) -> Result<(), StageError> {
    let n = verification(app, task).await.map_err(retry)?;
    let close_key = format!("{}:close:{n}", task.id);
    // Resumed after queueing the close: the regression passed already; only the
    // ticket system's answer is awaited.
    if let Some(entry) = app.store.outbox_entry(&close_key).await.map_err(retry)? {
        return finish_close(app, task, entry).await;
    }
    if !app.flag(crate::flags::REGRESSION_AUTO).await {
        return Err(StageError::Paused(format!("regression runs are paused (flag {} is off)", crate::flags::REGRESSION_AUTO)));
    }
    let outcome = regression::run(app, task).await.map_err(retry)?;
    let target = ticket::target(app, task).await.map_err(retry)?;
    if outcome.passed {
        metrics::counter!("casefile_regression_total", "result" => "passed").increment(1);
        if target.is_some() && task.ticket_id.is_some() {
            let comment = format!("Regression passed ({}); closed by casefile.", outcome.said());
            if ticket::enqueue_transition(app, task, &close_key, "close", &comment).await.map_err(retry)? {
                let entry = app.store.outbox_entry(&close_key).await.map_err(retry)?.ok_or_else(|| fatal("outbox", "the queued close vanished"))?;
                return finish_close(app, task, entry).await;
            }
        }
        close_task(app, task, &outcome.detail).await
    } else {
        metrics::counter!("casefile_regression_total", "result" => "failed").increment(1);
        if target.is_some() {
            // Queued, not awaited: the task waits for a fix either way.
            let comment = format!("Regression failed ({}); the ticket stays open.", outcome.said());
            ticket::enqueue_transition(app, task, &format!("{}:regression-failed:{n}", task.id), "comment", &comment).await.map_err(retry)?;
        }
        app.store.set_state(&task.id, TaskState::AwaitingFix, Some(&outcome.detail)).await.map_err(retry)
    }
}

/// The task closes once the ticket system has taken the close (or has refused it,
/// or a person cancelled it: then the task says so), never before, so a closed
/// task does not sit beside an open ticket.
async fn finish_close(app: &App, task: &TaskRow, entry: crate::store::OutboxEntry) -> Result<(), StageError> {
    match entry.state.as_str() {
        "delivered" => {
            metrics::counter!("casefile_ticket_autoclosed_total").increment(1);
            // Before this task, so a retry of this stage does it again if it fails.
            close_others_on_ticket(app, task).await.map_err(retry)?;
            close_task(app, task, &entry.comment).await
        }
        "pending" => {
            if entry.attempts > 0 {
                note_waiting(app, task, &entry).await.map_err(retry)?;
            }
            Err(StageError::Wait(app.config.ticket.retry_max_ms.clamp(200, 5_000) as i64))
        }
        other => {
            let detail = format!("regression passed; the ticket close was {other}: {}", entry.answer.unwrap_or_default());
            close_task(app, task, &detail).await
        }
    }
}

/// Other diagnoses of the same failure (occurrences on the same ticket) wait for
/// the same fix: the verified fix closed their ticket, so they close too, instead
/// of waiting on a closed ticket.
async fn close_others_on_ticket(app: &App, task: &TaskRow) -> anyhow::Result<()> {
    let Some(ticket_id) = &task.ticket_id else { return Ok(()) };
    for other in app.store.tasks_on_ticket(&task.tenant, ticket_id, TaskState::AwaitingFix, &task.id).await? {
        let detail = format!("closed: the fix verified by task {} closed ticket {ticket_id}", task.id);
        if app.store.transition(&other, &[TaskState::AwaitingFix], TaskState::Closed, Some(&detail)).await? {
            app.audit.append(&app.store, "pipeline", "task.closed", &other, json!({"ticket_id": ticket_id, "verified_by": task.id})).await?;
        }
    }
    Ok(())
}

/// Closes the task after its regression passed, then resolves its alert and
/// archives its audit trail (`regression::closure`).
async fn close_task(app: &App, task: &TaskRow, detail: &str) -> Result<(), StageError> {
    app.store.set_state(&task.id, TaskState::Closed, Some(detail)).await.map_err(retry)?;
    app.audit
        .append(&app.store, "pipeline", "task.closed", &task.id, json!({"regression": detail, "ref": task.regression_ref}))
        .await
        .map_err(retry)?;
    crate::regression::closure::after_pass(app, task).await;
    Ok(())
}
