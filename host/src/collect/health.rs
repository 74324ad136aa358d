//! Source health: a source that failed again and again lately is not asked first;
//! the host goes straight down its fallback chain (a circuit breaker). One failure
//! is an incident; `THRESHOLD` in a row within `WINDOW` is a pattern. A success
//! closes the breaker; after `WINDOW` without calls the source is asked again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const THRESHOLD: usize = 2;
const WINDOW: Duration = Duration::from_secs(60);

/// One source's recent consecutive failures (shared by every task on this host).
#[derive(Debug, Default)]
pub struct Health {
    failures: Mutex<Vec<Instant>>,
}

impl Health {
    pub fn failed(&self) {
        if let Ok(mut f) = self.failures.lock() {
            f.push(Instant::now());
        }
    }

    pub fn succeeded(&self) {
        if let Ok(mut f) = self.failures.lock() {
            f.clear();
        }
    }

    /// How many failures in a row within the window, when that makes it unhealthy.
    pub fn unhealthy(&self) -> Option<usize> {
        let mut f = self.failures.lock().ok()?;
        f.retain(|at| at.elapsed() < WINDOW);
        (f.len() >= THRESHOLD).then_some(f.len())
    }
}

/// Every source's health on this host, by source name.
#[derive(Debug, Default)]
pub struct SourceHealth {
    by_name: Mutex<HashMap<String, Arc<Health>>>,
}

impl SourceHealth {
    pub fn of(&self, name: &str) -> Arc<Health> {
        match self.by_name.lock() {
            Ok(mut m) => m.entry(name.to_string()).or_default().clone(),
            // A poisoned map only loses the breaker, never a diagnosis.
            Err(_) => Arc::new(Health::default()),
        }
    }
}

pub fn window_secs() -> u64 {
    WINDOW.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_in_a_row_open_the_breaker_and_a_success_closes_it() {
        let h = Health::default();
        assert_eq!(h.unhealthy(), None);
        h.failed();
        assert_eq!(h.unhealthy(), None, "one failure is an incident");
        h.failed();
        assert_eq!(h.unhealthy(), Some(2));
        h.succeeded();
        assert_eq!(h.unhealthy(), None);
        let all = SourceHealth::default();
        all.of("loki").failed();
        all.of("loki").failed();
        assert!(all.of("loki").unhealthy().is_some() && all.of("files").unhealthy().is_none());
    }
}
