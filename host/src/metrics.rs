//! Counters, gauges and histograms in Prometheus' text format. Updated per batch, not per
//! event, so a mutex is cheap enough and keeps this dependency-free.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

type Labels = Vec<(&'static str, String)>;

/// Buckets for module call latency, in seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    gauges: Mutex<BTreeMap<(&'static str, Labels), f64>>,
    histograms: Mutex<BTreeMap<(&'static str, Labels), Histogram>>,
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

const HELP: &[(&str, &str, &str)] = &[
    ("liveviewer_events_total", "counter", "Events received, by the module version that processed them."),
    ("liveviewer_applied_total", "counter", "Events merged into a profile."),
    ("liveviewer_skipped_total", "counter", "Events the module skipped (not media events)."),
    ("liveviewer_rejected_total", "counter", "Events the module rejected as bad input."),
    ("liveviewer_duplicates_total", "counter", "Redelivered events already merged (not applied again)."),
    ("liveviewer_dead_letters_total", "counter", "Events dead-lettered, by reason."),
    ("liveviewer_module_faults_total", "counter", "Module faults contained, by kind."),
    ("liveviewer_module_fuel_total", "counter", "Fuel (about one per wasm instruction) the module used."),
    ("liveviewer_module_call_seconds", "histogram", "Time of one module call (one batch)."),
    ("liveviewer_module_swaps_total", "counter", "Module candidates accepted or refused."),
    ("liveviewer_module_rollbacks_total", "counter", "Returns to the previous module."),
    ("liveviewer_store_writes_total", "counter", "Profile writes committed."),
    ("liveviewer_store_conflicts_total", "counter", "Conditional writes lost to another writer (merged again)."),
    ("liveviewer_store_retries_total", "counter", "Store operations retried after a transient error."),
    ("liveviewer_batches_total", "counter", "Batches processed."),
    ("liveviewer_deltas_dropped_total", "counter", "Deltas dropped by a profile bound (fields, value size, dedupe keys)."),
    ("liveviewer_shadow_events_total", "counter", "Events a shadow module saw."),
    ("liveviewer_shadow_differences_total", "counter", "Events on which the shadow module's result differed."),
    ("liveviewer_active_viewers", "gauge", "Viewers whose last event is within the active window."),
    ("liveviewer_consumer_lag", "gauge", "Messages behind the end of the Kafka topic."),
    ("liveviewer_module_healthy", "gauge", "1 while the active module's fault share is under its limit."),
    ("liveviewer_store_written_bytes_total", "counter", "Bytes of profile state written (the encoded profiles, attributes aside)."),
    ("liveviewer_store_history_rows_total", "counter", "Status-history rows written."),
    ("liveviewer_store_write_retries_total", "counter", "Profile writes throttled or failed alone, written again alone."),
    ("liveviewer_store_loads_total", "counter", "Profiles looked up by key (viewers new to the working set)."),
    ("liveviewer_unreadable_profiles_total", "counter", "Stored profiles that could not be read (their events dead-lettered)."),
    ("liveviewer_working_profiles", "gauge", "Profiles held in memory between writes."),
    ("liveviewer_packed_profiles", "gauge", "Of the profiles held in memory, those of idle viewers held packed (encoded)."),
    ("liveviewer_live_packed_viewers", "gauge", "Viewers in the live view whose profile JSON is held compressed (idle)."),
    ("liveviewer_unwritten_profiles", "gauge", "Profiles with changes not yet written to the store."),
    ("liveviewer_profiles_published_total", "counter", "Changed profiles published to the live view (the changelog)."),
    ("liveviewer_changelog_records_total", "counter", "Changelog records read into this host's live view."),
    ("liveviewer_changelog_unreadable_total", "counter", "Changelog records that were not a profile."),
    ("liveviewer_dead_letter_files_rotated_total", "counter", "Times the dead-letter file was full and a new one begun."),
    ("liveviewer_dead_letter_bytes_discarded_total", "counter", "Bytes of the oldest dead-letter files deleted by rotation."),
    ("liveviewer_dead_letters_spilled_total", "counter", "Dead letters the Kafka topic would not take, written to the local spill file."),
    ("liveviewer_http_connections", "gauge", "HTTP connections open."),
    ("liveviewer_http_connections_refused_total", "counter", "Connections answered 503 at http.max_connections."),
    ("liveviewer_http_timeouts_total", "counter", "Connections closed at a timeout, by kind (header, idle, write)."),
    ("liveviewer_push_clients", "gauge", "Push-channel clients connected."),
    ("liveviewer_push_clients_refused_total", "counter", "Push-channel clients answered 503 at http.max_push_clients."),
];

impl Metrics {
    pub fn inc(&self, name: &'static str, pairs: &[(&'static str, &str)], by: u64) {
        if by > 0 {
            *self.counters.lock().expect("metrics").entry((name, labels(pairs))).or_insert(0) += by;
        }
    }

    pub fn set(&self, name: &'static str, pairs: &[(&'static str, &str)], value: f64) {
        self.gauges.lock().expect("metrics").insert((name, labels(pairs)), value);
    }

    pub fn observe(&self, name: &'static str, pairs: &[(&'static str, &str)], seconds: f64) {
        let mut h = self.histograms.lock().expect("metrics");
        let h = h.entry((name, labels(pairs))).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// A counter summed over all its label sets.
    pub fn total(&self, name: &str) -> u64 {
        self.counters.lock().expect("metrics").iter().filter(|((n, _), _)| *n == name).map(|(_, v)| *v).sum()
    }

    /// A counter with exactly these labels.
    pub fn get(&self, name: &'static str, pairs: &[(&'static str, &str)]) -> u64 {
        self.counters.lock().expect("metrics").get(&(name, labels(pairs))).copied().unwrap_or(0)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().expect("metrics");
        let gauges = self.gauges.lock().expect("metrics");
        let histograms = self.histograms.lock().expect("metrics");
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((n, l), v) in counters.iter().filter(|((n, _), _)| n == name) {
                let _ = writeln!(out, "{n}{} {v}", fmt_labels(l, None));
            }
            for ((n, l), v) in gauges.iter().filter(|((n, _), _)| n == name) {
                let _ = writeln!(out, "{n}{} {v}", fmt_labels(l, None));
            }
            for ((n, l), h) in histograms.iter().filter(|((n, _), _)| n == name) {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(out, "{n}_bucket{} {}", fmt_labels(l, Some(&b.to_string())), h.counts[i]);
                }
                let _ = writeln!(out, "{n}_bucket{} {}", fmt_labels(l, Some("+Inf")), h.count);
                let _ = writeln!(out, "{n}_sum{} {}", fmt_labels(l, None), h.sum);
                let _ = writeln!(out, "{n}_count{} {}", fmt_labels(l, None), h.count);
            }
        }
        // A metric counted somewhere but not described above is still shown, untyped.
        let described = |n: &str| HELP.iter().any(|(h, _, _)| *h == n);
        for ((n, l), v) in counters.iter().filter(|((n, _), _)| !described(n)) {
            let _ = writeln!(out, "{n}{} {v}", fmt_labels(l, None));
        }
        for ((n, l), v) in gauges.iter().filter(|((n, _), _)| !described(n)) {
            let _ = writeln!(out, "{n}{} {v}", fmt_labels(l, None));
        }
        out
    }
}

fn fmt_labels(l: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = l.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.inc("liveviewer_events_total", &[("module_version", "sha256:ab")], 3);
        m.inc("liveviewer_events_total", &[("module_version", "sha256:ab")], 2);
        m.observe("liveviewer_module_call_seconds", &[("module_version", "sha256:ab")], 0.003);
        m.set("liveviewer_active_viewers", &[], 7.0);
        let text = m.render();
        assert!(text.contains("liveviewer_events_total{module_version=\"sha256:ab\"} 5"), "{text}");
        assert!(text.contains("liveviewer_module_call_seconds_bucket{module_version=\"sha256:ab\",le=\"0.005\"} 1"));
        assert!(text.contains("liveviewer_module_call_seconds_bucket{module_version=\"sha256:ab\",le=\"0.0025\"} 0"));
        assert!(text.contains("liveviewer_active_viewers 7"));
        assert_eq!(m.total("liveviewer_events_total"), 5);
    }
}
