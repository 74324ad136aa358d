//! The NATS JetStream trigger (`events.nats`). The host binds a durable pull
//! consumer (explicit ack) on the configured stream and subject, creating both when
//! missing, and takes each message as the HTTP routes take a request
//! (`trigger::accept`). A message is acknowledged only once its task is stored, so a
//! host that dies before that leaves it to be delivered again (to itself or another
//! host sharing the consumer), and idempotency on (tenant, error event id) makes the
//! redelivery find the stored task. An invalid message is terminated at once (never
//! redelivered), logged and audited; a failure of the host itself is negatively
//! acknowledged with a delay and tried again.
//!
//! JetStream answers a publisher's request itself (with its publish ack), so a
//! publisher that wants casefile's answer names a subject in the
//! `Casefile-Reply-To` header: the host publishes there the JSON the HTTP route
//! would have answered, with its status in the `Casefile-Status` header.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::{self, consumer, stream, AckKind};
use futures::StreamExt;
use serde_json::json;

use crate::app::App;
use crate::config::{NatsAuthScheme, NatsConfig};
use crate::trigger::{accept, Outcome};

/// The header naming where the answer goes.
pub const REPLY_HEADER: &str = "Casefile-Reply-To";
/// The HTTP status of the answer.
pub const STATUS_HEADER: &str = "Casefile-Status";
/// How long a message the host failed on waits before it is delivered again.
const RETRY_DELAY: Duration = Duration::from_secs(5);

/// Starts consuming when `events.nats` is configured; keeps at it (reconnecting with
/// backoff) for the life of the process.
pub fn spawn(app: Arc<App>) {
    let Some(cfg) = app.config.events.nats.clone() else {
        return;
    };
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            metrics::gauge!("casefile_nats_consuming").set(0.0);
            match consume(&app, &cfg).await {
                Ok(()) => tracing::warn!(subject = %cfg.subject, "NATS message stream ended; binding the consumer again"),
                Err(e) => tracing::error!(
                    url = %crate::store::redact_url(&cfg.url), subject = %cfg.subject, error = %format!("{e:#}"), retry_in_ms = backoff.as_millis() as u64,
                    "NATS trigger is not consuming (is nats-server running with -js at events.nats.url?)"
                ),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    });
}

/// The connection options, with the configured credentials read now (a rotated
/// secret takes effect at the next reconnect).
async fn options(app: &App, cfg: &NatsConfig) -> Result<async_nats::ConnectOptions> {
    let opts = async_nats::ConnectOptions::new().name("casefile").connection_timeout(Duration::from_secs(5));
    let Some(c) = &cfg.credentials else {
        return Ok(opts);
    };
    let secret = crate::outbound::read_secret(c.from_env.as_deref(), c.from_file.as_deref(), &|p| app.config.resolve_path(p))
        .context("events.nats.credentials")?;
    Ok(match c.scheme {
        NatsAuthScheme::Token => opts.token(secret),
        NatsAuthScheme::Password => opts.user_and_password(c.user.clone().unwrap_or_default(), secret),
        NatsAuthScheme::Nkey => opts.nkey(secret),
        NatsAuthScheme::Creds => opts.credentials(&secret).context("events.nats.credentials: not a .creds file (user JWT and nkey seed)")?,
    })
}

/// Connects, binds the stream and the durable consumer, and takes messages until
/// the stream of messages fails.
async fn consume(app: &Arc<App>, cfg: &NatsConfig) -> Result<()> {
    let client = options(app, cfg).await?.connect(cfg.url.as_str()).await.context("cannot connect to NATS")?;
    let js = jetstream::new(client.clone());
    let stream = js
        .get_or_create_stream(stream::Config {
            name: cfg.stream.clone(),
            subjects: vec![cfg.subject.clone()],
            max_age: Duration::from_secs(cfg.stream_max_age_hours * 3600),
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .with_context(|| format!("cannot find or create stream `{}` for subject `{}`", cfg.stream, cfg.subject))?;
    let consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(
            &cfg.consumer,
            consumer::pull::Config {
                durable_name: Some(cfg.consumer.clone()),
                description: Some("casefile: plugin.debug.alert triggers".into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(cfg.ack_wait_seconds),
                max_deliver: cfg.max_deliver,
                filter_subject: cfg.subject.clone(),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("cannot find or create durable consumer `{}` on stream `{}`", cfg.consumer, cfg.stream))?;
    let bound = &consumer.cached_info().config.filter_subject;
    if bound != &cfg.subject {
        // An existing durable keeps its own filter; say so rather than consume
        // something other than what the config names.
        anyhow::bail!(
            "durable consumer `{}` on stream `{}` filters `{bound}`, not events.nats.subject `{}`: delete it (nats consumer rm) or name another events.nats.consumer",
            cfg.consumer,
            cfg.stream,
            cfg.subject
        );
    }
    let mut messages = consumer.messages().await.context("cannot pull from the consumer")?;
    metrics::gauge!("casefile_nats_consuming").set(1.0);
    tracing::info!(stream = %cfg.stream, consumer = %cfg.consumer, subject = %cfg.subject, "consuming plugin.debug.alert triggers from NATS JetStream");
    while let Some(next) = messages.next().await {
        let msg = next.context("the consumer's message stream failed")?;
        handle(app, cfg, &client, msg).await?;
    }
    Ok(())
}

/// Takes one message; an error means the connection is in doubt (an ack that did
/// not land), and the message will be delivered again.
async fn handle(app: &App, cfg: &NatsConfig, client: &async_nats::Client, msg: jetstream::Message) -> Result<()> {
    let (seq, delivered) = msg.info().map(|i| (i.stream_sequence, i.delivered)).unwrap_or((0, 0));
    let target = format!("nats:{}:{seq}", cfg.stream);
    let answer = accept(app, "nats", &msg.payload, app.config.server.max_body_bytes).await;
    metrics::counter!("casefile_nats_messages_total", "outcome" => answer.outcome.label()).increment(1);
    match &answer.outcome {
        Outcome::Failed(e) => {
            tracing::warn!(%target, delivered, error = %e, "the host failed on a NATS trigger; it will be delivered again");
            msg.ack_with(AckKind::Nak(Some(RETRY_DELAY))).await.map_err(|e| anyhow::anyhow!("cannot nak {target}: {e}"))?;
            // No answer yet: the redelivery will give one.
            return Ok(());
        }
        Outcome::Rejected(e) => {
            tracing::error!(%target, subject = %msg.subject, code = e.code, reason = %e.message, "NATS trigger refused; terminated, it will not be delivered again");
            let detail = json!({"subject": msg.subject.as_str(), "stream": cfg.stream, "seq": seq, "delivered": delivered, "code": e.code, "message": e.message});
            if let Err(err) = app.audit.append(&app.store, "nats", "trigger.rejected", &target, detail).await {
                // Not audited, not terminated: it comes back and is refused again.
                tracing::warn!(%target, error = %format!("{err:#}"), "cannot audit a refused NATS trigger; it will be delivered again");
                msg.ack_with(AckKind::Nak(Some(RETRY_DELAY))).await.map_err(|e| anyhow::anyhow!("cannot nak {target}: {e}"))?;
                return Ok(());
            }
            msg.double_ack_with(AckKind::Term).await.map_err(|e| anyhow::anyhow!("cannot terminate {target}: {e}"))?;
        }
        outcome => {
            tracing::info!(%target, delivered, outcome = outcome.label(), answer = %answer.body, "NATS trigger taken");
            msg.double_ack().await.map_err(|e| anyhow::anyhow!("cannot ack {target}: {e}"))?;
        }
    }
    let reply_to = msg.headers.as_ref().and_then(|h| h.get(REPLY_HEADER)).map(|v| v.as_str().to_string()).filter(|s| !s.is_empty());
    if let Some(reply_to) = reply_to {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(STATUS_HEADER, answer.status.as_u16().to_string().as_str());
        if let Err(e) = client.publish_with_headers(reply_to.clone(), headers, answer.body.to_string().into()).await {
            tracing::warn!(%target, reply_to, error = %e, "cannot answer a NATS trigger");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(events: &str) -> anyhow::Result<Config> {
        let raw = format!(
            "components:\n  m: {{ kind: masker, source: \"builtin:masker-default\" }}\ndefault: {{ masker: m }}\n{events}"
        );
        Config::parse_with_env(&raw, std::path::Path::new("."), &|k| (k == "NATS_URL").then(|| "nats://10.0.0.1:4222".to_string()))
    }

    #[test]
    fn the_nats_section_has_defaults_and_says_what_is_wrong() {
        assert!(parse("").unwrap().events.nats.is_none(), "off unless configured");
        let c = parse("events:\n  nats: { url: \"${NATS_URL}\" }\n").unwrap();
        let n = c.events.nats.unwrap();
        assert_eq!((n.url.as_str(), n.subject.as_str(), n.stream.as_str(), n.consumer.as_str()), ("nats://10.0.0.1:4222", "plugin.debug.alert", "CASEFILE_EVENTS", "casefile"));
        assert_eq!((n.ack_wait_seconds, n.max_deliver), (30, -1));
        let e = format!("{:#}", parse("events:\n  nats: { stream: \"A.B\" }\n").unwrap_err());
        assert!(e.contains("events.nats.stream"), "{e}");
        let e = format!("{:#}", parse("events:\n  nats: { max_deliver: 0 }\n").unwrap_err());
        assert!(e.contains("max_deliver"), "{e}");
        let e = format!("{:#}", parse("events:\n  nats: { credentials: { scheme: token } }\n").unwrap_err());
        assert!(e.contains("from_env"), "{e}");
        let e = format!("{:#}", parse("events:\n  nats: { credentials: { scheme: password, from_env: P } }\n").unwrap_err());
        assert!(e.contains("user"), "{e}");
        let e = format!("{:#}", parse("events:\n  nats: { sujbect: x }\n").unwrap_err());
        assert!(e.contains("sujbect"), "{e}");
    }
}
