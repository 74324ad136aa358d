//! Clock skew: per-host clock offsets estimated from spans whose parent ran on
//! another host, and applied to every span and log line of that host.
//!
//! The per-span rule is Jaeger's adjuster (`model/adjuster/clockskew.go`): a child
//! that fits inside its parent needs no shift; a child longer than its parent is
//! aligned to the parent's start (latency cannot be told apart); otherwise the child
//! is centred in its parent, a shift of
//! `parent.start + (parent.duration - child.duration) / 2 - child.start`.
//! Jaeger shifts single spans; a host has one clock, so here the estimates of all
//! a host's cross-host children are pooled into one offset for the host, and that
//! offset moves all of its spans and log lines. Metrics are not moved: their
//! timestamps come from the metrics system's clock, not the host's.
//!
//! Hosts are taken in call order: the hosts that are never called from another
//! host keep their clocks (offset 0) and are the reference; a called host is
//! estimated against its callers *after* the callers were corrected, so a chain
//! A → B → C is corrected link by link, and C's estimate already includes B's
//! correction. Everything here is pure: spans in, offsets out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Batch, Span};

/// One host whose clock was corrected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOffset {
    pub host: String,
    /// Added to every timestamp of the host (negative: the host's clock was ahead).
    pub offset_ns: i64,
    /// The calling hosts it was estimated against, sorted.
    pub relative_to: Vec<String>,
    /// Child spans the estimate was taken from.
    pub from_spans: usize,
}

/// What the estimator found for one diagnosis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClockReport {
    /// The cap: an estimate larger than this (either way) is not applied.
    pub max_skew_ns: i64,
    /// Hosts whose clocks were moved, sorted by host.
    pub adjusted: Vec<HostOffset>,
    /// Hosts whose estimate exceeded the cap and were left as they were.
    pub over_cap: Vec<HostOffset>,
    /// Called hosts checked and found in step (every estimate says no shift).
    pub in_step: Vec<String>,
}

impl ClockReport {
    /// Whether any span had a parent on another host: without one there is
    /// nothing to say about clocks.
    pub fn checked_anything(&self) -> bool {
        !(self.adjusted.is_empty() && self.over_cap.is_empty() && self.in_step.is_empty())
    }

    pub fn offset_of(&self, host: &str) -> Option<i64> {
        self.adjusted.iter().find(|a| a.host == host).map(|a| a.offset_ns)
    }
}

/// The shift that puts `child` inside `parent` (Jaeger's rule), in nanoseconds.
/// Computed in 128 bits: the inputs come from sources and may be anything.
pub fn child_shift(parent_start: i64, parent_duration: i64, child: &Span) -> i64 {
    let (ps, pd) = (parent_start as i128, parent_duration.max(0) as i128);
    let (cs, cd) = (child.start_ns as i128, child.duration_ns.max(0) as i128);
    let shift = if cs >= ps && cs + cd <= ps + pd {
        0
    } else if cd > pd {
        ps - cs
    } else {
        ps + (pd - cd) / 2 - cs
    };
    shift.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Estimates one offset per called host. `max_skew_ns` is the cap (Jaeger's
/// `maxDelta`): a host whose estimate is larger keeps its clock and is reported
/// as over the cap, rather than being moved by an amount that is more likely a
/// broken span than a clock.
pub fn estimate(spans: &[Span], max_skew_ns: i64) -> ClockReport {
    let by_id: HashMap<(&str, &str), &Span> =
        spans.iter().map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s)).collect();
    // (caller host, called host) -> (parent, child) pairs that cross between them.
    let mut links: BTreeMap<(&str, &str), Vec<(&Span, &Span)>> = BTreeMap::new();
    for child in spans {
        let Some(parent) = child.parent_span_id.as_deref().and_then(|p| by_id.get(&(child.trace_id.as_str(), p))) else {
            continue;
        };
        // A span without a host cannot be given to a clock.
        if parent.host.is_empty() || child.host.is_empty() || parent.host == child.host {
            continue;
        }
        links.entry((parent.host.as_str(), child.host.as_str())).or_default().push((parent, child));
    }
    let mut report = ClockReport { max_skew_ns, ..ClockReport::default() };
    if links.is_empty() {
        return report;
    }
    let called: BTreeSet<&str> = links.keys().map(|(_, c)| *c).collect();
    let callers: BTreeSet<&str> = links.keys().map(|(p, _)| *p).collect();
    // The reference clocks: hosts nobody calls. When every host is called (calls
    // going both ways), the host that calls most others is taken as the reference.
    let mut settled: BTreeMap<&str, i64> = callers.iter().filter(|h| !called.contains(*h)).map(|h| (*h, 0)).collect();
    loop {
        settle_reachable(&links, &mut settled, &mut report);
        let unsettled: Vec<&str> = called.iter().copied().filter(|h| !settled.contains_key(h)).collect();
        if unsettled.is_empty() {
            break;
        }
        let most_calls = |h: &&str| links.keys().filter(|(p, _)| p == h).count();
        let Some(reference) = unsettled.iter().copied().max_by_key(|h| (most_calls(h), std::cmp::Reverse(*h))) else {
            break;
        };
        settled.insert(reference, 0);
    }
    report.adjusted.sort_by(|a, b| a.host.cmp(&b.host));
    report.over_cap.sort_by(|a, b| a.host.cmp(&b.host));
    report.in_step.sort();
    report
}

/// Settles, level by level, every host called by an already settled one.
fn settle_reachable<'a>(
    links: &BTreeMap<(&'a str, &'a str), Vec<(&'a Span, &'a Span)>>,
    settled: &mut BTreeMap<&'a str, i64>,
    report: &mut ClockReport,
) {
    loop {
        let next: BTreeSet<&str> =
            links.keys().filter(|(p, c)| settled.contains_key(p) && !settled.contains_key(c)).map(|(_, c)| *c).collect();
        if next.is_empty() {
            return;
        }
        let mut level = Vec::new();
        for host in next {
            // Every call into the host from a settled caller, with the caller's
            // spans already corrected. Several callers, or several calls, may
            // disagree (network latency is not symmetric, a span may be broken):
            // the median is the estimate, so a minority of outliers cannot move it.
            let mut shifts: Vec<i64> = Vec::new();
            let mut relative_to = Vec::new();
            for ((caller, _), pairs) in links.iter().filter(|((p, c), _)| *c == host && settled.contains_key(p)) {
                let caller_offset = settled.get(caller).copied().unwrap_or(0);
                relative_to.push(caller.to_string());
                shifts.extend(
                    pairs.iter().map(|(p, c)| child_shift(p.start_ns.saturating_add(caller_offset), p.duration_ns, c)),
                );
            }
            let offset = median(&mut shifts);
            let found = HostOffset { host: host.to_string(), offset_ns: offset, relative_to, from_spans: shifts.len() };
            if offset == 0 {
                report.in_step.push(found.host);
                level.push((host, 0));
            } else if offset.unsigned_abs() > max_abs(report.max_skew_ns) {
                // Over the cap: left as it was, so its own callees are estimated
                // against its uncorrected clock.
                report.over_cap.push(found);
                level.push((host, 0));
            } else {
                report.adjusted.push(found);
                level.push((host, offset));
            }
        }
        settled.extend(level);
    }
}

fn max_abs(cap: i64) -> u64 {
    cap.max(0).unsigned_abs()
}

/// The lower median: always one of the estimates actually observed.
fn median(v: &mut [i64]) -> i64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[(v.len() - 1) / 2]
}

/// Moves every span and log line of each adjusted host by its offset.
pub fn apply(batch: &mut Batch, clock: &ClockReport) {
    if clock.adjusted.is_empty() {
        return;
    }
    let offsets: HashMap<&str, i64> = clock.adjusted.iter().map(|a| (a.host.as_str(), a.offset_ns)).collect();
    for s in &mut batch.spans {
        if let Some(o) = offsets.get(s.host.as_str()) {
            s.start_ns = s.start_ns.saturating_add(*o);
        }
    }
    for l in &mut batch.logs {
        if let Some(o) = offsets.get(l.host.as_str()) {
            l.timestamp_ns = l.timestamp_ns.saturating_add(*o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, LogRecord};

    const MS: i64 = 1_000_000;
    const T0: i64 = 1_767_225_600_000_000_000;
    const CAP: i64 = 60_000 * MS;

    fn span(id: &str, parent: Option<&str>, host: &str, start: i64, duration: i64) -> Span {
        Span {
            trace_id: "t1".into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_string),
            name: format!("op-{id}"),
            service: host.into(),
            host: host.into(),
            environment: "prod".into(),
            start_ns: start,
            duration_ns: duration,
            error: false,
            attributes: vec![],
        }
    }

    fn log(host: &str, ts: i64, msg: &str) -> LogRecord {
        LogRecord {
            timestamp_ns: ts,
            host: host.into(),
            environment: "prod".into(),
            source: "files".into(),
            level: Level::Info,
            message: msg.into(),
            trace_id: Some("t1".into()),
            span_id: None,
            attributes: vec![],
        }
    }

    /// A calls B calls C, in true time. Network latency is not symmetric (8 ms
    /// out, 12 ms back), so centring the child is off by (12 - 8) / 2 = 2 ms: the
    /// tolerance stated for recovery is therefore 5 ms.
    fn three_hosts(b_ahead_by: i64) -> Vec<Span> {
        vec![
            span("a", None, "host-a", T0, 100 * MS),
            span("b", Some("a"), "host-b", T0 + 8 * MS + b_ahead_by, 80 * MS),
            span("b2", Some("b"), "host-b", T0 + 10 * MS + b_ahead_by, 5 * MS),
            span("c", Some("b"), "host-c", T0 + 20 * MS, 50 * MS),
        ]
    }
    const TOLERANCE: i64 = 5 * MS;

    #[test]
    fn a_known_offset_on_the_middle_of_a_three_host_chain_is_recovered() {
        let ahead = 5_000 * MS;
        let clock = estimate(&three_hosts(ahead), CAP);
        let b = clock.adjusted.iter().find(|a| a.host == "host-b").expect("host-b adjusted");
        assert!((b.offset_ns + ahead).abs() <= TOLERANCE, "recovered {} ms, want -5000 ± 5", b.offset_ns / MS);
        assert_eq!(b.relative_to, vec!["host-a".to_string()]);
        assert_eq!(b.from_spans, 1);
        // C's clock was right: once B is corrected, C's span fits B's and is left alone.
        assert_eq!(clock.offset_of("host-c"), None);
        assert_eq!(clock.in_step, vec!["host-c".to_string()]);
        assert_eq!(clock.offset_of("host-a"), None, "the caller nobody calls is the reference");
    }

    #[test]
    fn a_skewed_host_at_the_end_of_a_chain_gets_its_callers_correction_too() {
        // B is 5 s ahead and C is 2 s behind A: C is estimated against corrected B.
        let mut spans = three_hosts(5_000 * MS);
        spans[3].start_ns -= 2_000 * MS;
        let clock = estimate(&spans, CAP);
        let c = clock.offset_of("host-c").expect("host-c adjusted");
        assert!((c - 2_000 * MS).abs() <= TOLERANCE, "host-c moved by {} ms, want +2000 ± 5", c / MS);
        assert_eq!(clock.adjusted.iter().find(|a| a.host == "host-c").map(|a| a.relative_to.clone()), Some(vec!["host-b".into()]));
    }

    #[test]
    fn the_log_lines_and_spans_of_an_adjusted_host_move_with_it() {
        let ahead = 5_000 * MS;
        let mut batch = Batch {
            spans: three_hosts(ahead),
            logs: vec![
                log("host-a", T0 + 5 * MS, "a calls b"),
                log("host-b", T0 + 30 * MS + ahead, "b fails"),
                log("host-a", T0 + 95 * MS, "a sees the failure"),
            ],
            ..Batch::default()
        };
        let clock = estimate(&batch.spans, CAP);
        apply(&mut batch, &clock);
        let off = clock.offset_of("host-b").expect("adjusted");
        let b_log = batch.logs.iter().find(|l| l.host == "host-b").unwrap();
        assert_eq!(b_log.timestamp_ns, T0 + 30 * MS + ahead + off);
        assert!((b_log.timestamp_ns - (T0 + 30 * MS)).abs() <= TOLERANCE);
        // Both of B's spans moved, the one that crossed hosts and the local one.
        assert_eq!(batch.spans[2].start_ns, T0 + 10 * MS + ahead + off);
        // A's lines did not move; in corrected time B's failure sits between them.
        assert_eq!(batch.logs[0].timestamp_ns, T0 + 5 * MS);
        let mut order: Vec<_> = batch.logs.iter().map(|l| (l.timestamp_ns, l.message.as_str())).collect();
        order.sort();
        assert_eq!(order.iter().map(|o| o.1).collect::<Vec<_>>(), ["a calls b", "b fails", "a sees the failure"]);
    }

    #[test]
    fn a_child_that_fits_its_parent_is_not_moved() {
        let spans = three_hosts(0);
        let clock = estimate(&spans, CAP);
        assert!(clock.adjusted.is_empty(), "{clock:?}");
        assert_eq!(clock.in_step, vec!["host-b".to_string(), "host-c".to_string()]);
        let mut batch = Batch { spans: spans.clone(), ..Batch::default() };
        apply(&mut batch, &clock);
        assert_eq!(batch.spans, spans);
        // Slightly early but inside the parent is still inside: no shift.
        assert_eq!(child_shift(T0, 100 * MS, &span("x", Some("a"), "h", T0 + 1, 99 * MS - 1)), 0);
    }

    #[test]
    fn a_child_longer_than_its_parent_is_aligned_to_the_parent_start() {
        assert_eq!(child_shift(T0, 10 * MS, &span("x", Some("a"), "h", T0 + 3 * MS, 20 * MS)), -3 * MS);
    }

    #[test]
    fn an_estimate_over_the_cap_is_reported_and_not_applied() {
        let clock = estimate(&three_hosts(5_000 * MS), 1_000 * MS);
        assert!(clock.offset_of("host-b").is_none());
        assert_eq!(clock.over_cap[0].host, "host-b");
        assert!((clock.over_cap[0].offset_ns + 5_000 * MS).abs() <= TOLERANCE);
        // C is then judged against B's uncorrected clock, 5 s off its own: over the cap too.
        assert_eq!(clock.over_cap.iter().map(|o| o.host.as_str()).collect::<Vec<_>>(), ["host-b", "host-c"]);
        assert!(clock.adjusted.is_empty());
        let mut batch = Batch { spans: three_hosts(5_000 * MS), ..Batch::default() };
        apply(&mut batch, &clock);
        assert_eq!(batch.spans, three_hosts(5_000 * MS));
        // The cap is inclusive: exactly at it still applies.
        let at_cap = clock.over_cap[0].offset_ns.abs();
        assert!(estimate(&three_hosts(5_000 * MS), at_cap).offset_of("host-b").is_some());
    }

    #[test]
    fn conflicting_estimates_take_the_median_so_one_broken_span_cannot_move_a_host() {
        let ahead = 3_000 * MS;
        let mut spans = vec![span("a", None, "host-a", T0, 1_000 * MS)];
        // Four calls from A to B, B 3 s ahead, with different latencies; one call
        // whose span was recorded an hour off (a broken client, not a clock).
        for (i, (at, len)) in [(10, 900), (40, 920), (20, 950), (30, 900)].into_iter().enumerate() {
            spans.push(span(&format!("b{i}"), Some("a"), "host-b", T0 + at * MS + ahead, len * MS));
        }
        spans.push(span("b-broken", Some("a"), "host-b", T0 - 3_600_000 * MS, 900 * MS));
        let clock = estimate(&spans, CAP);
        let b = clock.adjusted.iter().find(|a| a.host == "host-b").expect("adjusted");
        assert_eq!(b.from_spans, 5);
        // The four good calls say 2960..3000 ms; a mean with the broken one would say
        // B is 12 minutes behind. The median stays with the good calls.
        assert!((b.offset_ns + ahead).abs() <= 30 * MS, "offset {} ms", b.offset_ns / MS);
    }

    #[test]
    fn two_callers_that_disagree_are_pooled() {
        // B is called by A and by D; D's clock is fine, every estimate says B is 2 s ahead.
        let ahead = 2_000 * MS;
        let spans = vec![
            span("a", None, "host-a", T0, 100 * MS),
            span("d", None, "host-d", T0, 100 * MS),
            span("b1", Some("a"), "host-b", T0 + 10 * MS + ahead, 80 * MS),
            span("b2", Some("d"), "host-b", T0 + 10 * MS + ahead, 80 * MS),
        ];
        let clock = estimate(&spans, CAP);
        let b = clock.adjusted.iter().find(|a| a.host == "host-b").expect("adjusted");
        assert_eq!(b.relative_to, vec!["host-a".to_string(), "host-d".to_string()]);
        assert_eq!(b.from_spans, 2);
        assert_eq!(b.offset_ns, -ahead);
    }

    #[test]
    fn calls_both_ways_still_settle_every_host_once() {
        let ahead = 4_000 * MS;
        let spans = vec![
            span("a", None, "host-a", T0, 100 * MS),
            span("b", Some("a"), "host-b", T0 + 10 * MS + ahead, 80 * MS),
            span("a2", Some("b"), "host-a", T0 + 20 * MS, 10 * MS),
        ];
        let clock = estimate(&spans, CAP);
        // A is called too; A calls and is the reference by the tie-break, B moves.
        assert_eq!(clock.adjusted.len() + clock.in_step.len() + clock.over_cap.len(), 1, "{clock:?}");
        assert_eq!(clock.offset_of("host-b"), Some(-ahead));
    }

    #[test]
    fn spans_without_hosts_or_parents_say_nothing_about_clocks() {
        let mut spans = three_hosts(5_000 * MS);
        for s in &mut spans[1..] {
            s.host.clear();
        }
        assert!(!estimate(&spans, CAP).checked_anything());
        let mut orphans = three_hosts(5_000 * MS);
        for s in &mut orphans {
            s.parent_span_id = Some("missing".into());
        }
        assert!(!estimate(&orphans, CAP).checked_anything());
        // Extreme values do not overflow.
        let wild = vec![span("a", None, "x", i64::MAX, i64::MAX), span("b", Some("a"), "y", i64::MIN, -5)];
        let clock = estimate(&wild, CAP);
        assert_eq!(clock.over_cap.len(), 1);
    }
}
