//! Caps on what one diagnosis holds, so memory stays bounded however much a window
//! holds: one per source call (`pipeline.source_limit`, also handed to the connector
//! as the query's `limit` so it can stop reading) and one per report
//! (`pipeline.report_limit`, over every source together). What a cap drops is said in
//! the report, with the cap and the setting that sets it.

use crate::model::{Batch, Truncation};

/// Applies the per-source cap to what one source returned. A connector that honours
/// the limit stops at it: nothing is dropped here, but the window may hold more. One
/// that ignores it gets its tail cut (logs first kept, then spans, then metrics, in
/// the order it returned them).
pub fn source(batch: &mut Batch, limit: usize) -> Option<Truncation> {
    let total = batch.len();
    if total < limit {
        return None;
    }
    let keep_logs = batch.logs.len().min(limit);
    let keep_spans = batch.spans.len().min(limit - keep_logs);
    let keep_metrics = batch.metrics.len().min(limit - keep_logs - keep_spans);
    let dropped = (batch.logs.len() - keep_logs, batch.spans.len() - keep_spans, batch.metrics.len() - keep_metrics);
    batch.logs.truncate(keep_logs);
    batch.spans.truncate(keep_spans);
    batch.metrics.truncate(keep_metrics);
    let reason = if total == limit {
        format!("the source stopped at the per-source cap of {limit} records; the window may hold more that were not read")
    } else {
        format!("the source returned {total} records, over the per-source cap of {limit}; the last {} were dropped", total - limit)
    };
    Some(Truncation {
        limit,
        setting: "pipeline.source_limit".into(),
        dropped_logs: dropped.0,
        dropped_spans: dropped.1,
        dropped_metrics: dropped.2,
        more_may_exist: true,
        reason,
    })
}

/// Applies the per-report cap to the merged timeline: the `limit` records nearest in
/// time to `anchor_ns` are kept (the first error, where the reader looks first), the
/// farthest are dropped. The batch keeps its order.
pub fn report(batch: &mut Batch, limit: usize, anchor_ns: i64) -> Option<Truncation> {
    let total = batch.len();
    if total <= limit {
        return None;
    }
    let distance = |t: i64| t.abs_diff(anchor_ns);
    // The distance of the last record kept: select, not sort, so this stays linear.
    let mut all: Vec<u64> = batch
        .logs
        .iter()
        .map(|l| distance(l.timestamp_ns))
        .chain(batch.spans.iter().map(|s| distance(s.start_ns)))
        .chain(batch.metrics.iter().map(|m| distance(m.timestamp_ns)))
        .collect();
    let threshold = if limit == 0 { None } else { Some(*all.select_nth_unstable(limit - 1).1) };
    drop(all);
    // Records nearer than the threshold all fit; ties at it fill what is left, earliest first.
    let Some(threshold) = threshold else {
        let dropped = (batch.logs.len(), batch.spans.len(), batch.metrics.len());
        *batch = Batch::default();
        return Some(report_truncation(limit, total, dropped));
    };
    let nearer = |d: u64| d < threshold;
    let strictly: usize = batch.logs.iter().filter(|l| nearer(distance(l.timestamp_ns))).count()
        + batch.spans.iter().filter(|s| nearer(distance(s.start_ns))).count()
        + batch.metrics.iter().filter(|m| nearer(distance(m.timestamp_ns))).count();
    let mut ties_left = limit - strictly;
    let mut keep = |d: u64| {
        if d < threshold {
            true
        } else if d == threshold && ties_left > 0 {
            ties_left -= 1;
            true
        } else {
            false
        }
    };
    let before = (batch.logs.len(), batch.spans.len(), batch.metrics.len());
    batch.logs.retain(|l| keep(distance(l.timestamp_ns)));
    batch.spans.retain(|s| keep(distance(s.start_ns)));
    batch.metrics.retain(|m| keep(distance(m.timestamp_ns)));
    let dropped = (before.0 - batch.logs.len(), before.1 - batch.spans.len(), before.2 - batch.metrics.len());
    Some(report_truncation(limit, total, dropped))
}

fn report_truncation(limit: usize, total: usize, dropped: (usize, usize, usize)) -> Truncation {
    Truncation {
        limit,
        setting: "pipeline.report_limit".into(),
        dropped_logs: dropped.0,
        dropped_spans: dropped.1,
        dropped_metrics: dropped.2,
        more_may_exist: false,
        reason: format!(
            "the sources returned {total} records, over the per-report cap of {limit}; the {} farthest in time from the first error were dropped",
            total - limit
        ),
    }
}

/// Where the report cap centres: the first error or fatal line, else the end of the
/// window (the trigger fires after the failure).
pub fn anchor(batch: &Batch, window_end_ns: i64) -> i64 {
    batch.logs.iter().filter(|l| l.level.is_error()).map(|l| l.timestamp_ns).min().unwrap_or(window_end_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, LogRecord, MetricSample, Span};

    fn log(ts: i64, level: Level) -> LogRecord {
        LogRecord { timestamp_ns: ts, level, ..LogRecord::text("s", format!("line {ts}")) }
    }

    fn span(ts: i64) -> Span {
        Span {
            trace_id: "t".into(),
            span_id: format!("{ts:016x}"),
            parent_span_id: None,
            name: "op".into(),
            service: "svc".into(),
            host: "h".into(),
            environment: String::new(),
            start_ns: ts,
            duration_ns: 1,
            error: false,
            attributes: vec![],
        }
    }

    fn metric(ts: i64) -> MetricSample {
        MetricSample { name: "m".into(), labels: vec![], timestamp_ns: ts, value: 1.0, host: String::new(), environment: String::new() }
    }

    #[test]
    fn a_source_under_its_cap_is_untouched() {
        let mut b = Batch { logs: (0..5).map(|t| log(t, Level::Info)).collect(), ..Batch::default() };
        assert_eq!(source(&mut b, 6), None);
        assert_eq!(b.len(), 5);
    }

    #[test]
    fn a_source_at_its_cap_may_hold_more_and_one_over_it_loses_its_tail() {
        let mut at = Batch { logs: (0..5).map(|t| log(t, Level::Info)).collect(), ..Batch::default() };
        let t = source(&mut at, 5).expect("at the cap");
        assert!(t.more_may_exist && t.dropped_logs == 0 && at.len() == 5, "{t:?}");
        assert!(t.reason.contains("stopped at the per-source cap of 5"), "{}", t.reason);

        let mut over = Batch { logs: (0..4).map(|t| log(t, Level::Info)).collect(), spans: (0..3).map(span).collect(), metrics: vec![metric(1)] };
        let t = source(&mut over, 5).expect("over the cap");
        assert_eq!((t.dropped_logs, t.dropped_spans, t.dropped_metrics), (0, 2, 1));
        assert_eq!((over.logs.len(), over.spans.len(), over.metrics.len()), (4, 1, 0));
        assert!(t.reason.contains("returned 8 records") && t.reason.contains("last 3 were dropped"), "{}", t.reason);
    }

    #[test]
    fn the_report_cap_keeps_what_is_nearest_the_first_error() {
        // Lines at 0..100, the error at 70; spans at 0, 10, ..., 90; a metric at 500.
        let mut b = Batch {
            logs: (0..100).map(|t| log(t, if t == 70 { Level::Error } else { Level::Info })).collect(),
            spans: (0..10).map(|i| span(i * 10)).collect(),
            metrics: vec![metric(500)],
        };
        let anchor = anchor(&b, 1_000);
        assert_eq!(anchor, 70);
        let t = report(&mut b, 31, anchor).expect("over the cap");
        assert_eq!(b.len(), 31);
        // Kept: lines 60..=80 (21 records, distance ≤ 10), spans 60, 70, 80 (3), and
        // the ties at distance 11..: lines 59, 81, 58, 82 … until 31.
        assert!(b.logs.iter().any(|l| l.level == Level::Error));
        assert!(b.logs.iter().all(|l| (l.timestamp_ns - 70).abs() <= 14), "{:?}", b.logs.iter().map(|l| l.timestamp_ns).collect::<Vec<_>>());
        assert!(b.metrics.is_empty(), "the far metric goes first");
        assert_eq!(t.dropped_logs + t.dropped_spans + t.dropped_metrics, 111 - 31);
        assert!(!t.more_may_exist);
        assert!(b.logs.windows(2).all(|w| w[0].timestamp_ns <= w[1].timestamp_ns), "order kept");
        assert_eq!(t.setting, "pipeline.report_limit");
    }

    #[test]
    fn ties_fill_the_cap_exactly_and_a_zero_cap_keeps_nothing() {
        let mut b = Batch { logs: (0..10).map(|_| log(5, Level::Info)).collect(), ..Batch::default() };
        let t = report(&mut b, 4, 5).expect("over");
        assert_eq!((b.len(), t.dropped_logs), (4, 6));
        let mut b = Batch { logs: vec![log(1, Level::Info)], ..Batch::default() };
        assert_eq!(report(&mut b, 0, 0).map(|t| t.dropped_logs), Some(1));
        assert!(b.is_empty());
        // Without an error line the window's end is the anchor.
        assert_eq!(anchor(&Batch { logs: vec![log(3, Level::Info)], ..Batch::default() }, 9), 9);
    }
}
