//! Logs through `tracing` and Prometheus metrics through the `metrics` facade.
//!
//! Every log line the host writes is scrubbed on its way out (`Scrubbed`): error
//! messages quote URLs, request bodies and what components print, so the host's
//! own logs go through the masking detectors like everything else that leaves it,
//! in one place instead of at each call site.

use std::io::{self, Write};
use std::sync::OnceLock;

use casefile_guest::detect::{self, Counts, HmacPseudonyms, Policy};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::fmt::MakeWriter;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,wasmtime=warn,cranelift=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(Scrubbed(io::stderr)).try_init();
}

/// Text bound for the host's logs with the default policy's detectors applied; a
/// pseudonym key of its own keeps log tokens unlinkable to report tokens.
pub fn scrub(text: &str) -> String {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    let policy = POLICY.get_or_init(Policy::default);
    detect::mask_text(policy, &mut HmacPseudonyms::new(b"casefile-log-scrub"), text, &mut Counts::default())
}

/// A `MakeWriter` whose writers scrub each formatted event before it is written.
/// The fmt layer writes one event per `write` call, so a value is never split.
#[derive(Clone, Copy)]
pub struct Scrubbed<M>(pub M);

pub struct ScrubbedWriter<W>(W);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbed<M> {
    type Writer = ScrubbedWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedWriter(self.0.make_writer())
    }
}

impl<W: Write> Write for ScrubbedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(scrub(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn metrics() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("debug_report_generate_ms".into()),
                    &[10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0],
                )
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder is installed (tests in one process); the
            // handle then renders nothing, which is fine there.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn log_lines_are_scrubbed_on_the_way_out() {
        assert!(!scrub("request to http://u:pw12345678@loki:3100/x failed").contains("pw12345678"));
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let make = sink.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(Scrubbed(move || make.clone())).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(error = "login as ann@example.org with password=hunter22", "source failed");
        });
        let out = String::from_utf8_lossy(&sink.0.lock().unwrap()).to_string();
        assert!(out.contains("source failed"), "{out}");
        assert!(!out.contains("ann@example.org") && !out.contains("hunter22"), "{out}");
    }
}
