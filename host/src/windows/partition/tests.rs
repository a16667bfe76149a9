//! The partition's counts: lateness, repeats, taking over, and the bound on contents.

use super::*;

fn sample(id: &str, session: &str, ts: i64, played: f64, event: &str, content: &str) -> Sample {
    Sample {
        event_id: id.into(),
        ts,
        event: event.into(),
        session: Some(session.into()),
        content: Some(content.into()),
        started_at: None,
        time_played: played,
        time_buffering: 0.0,
        completed: false,
    }
}

fn totals(rounds: &[Round]) -> BTreeMap<i64, MinuteRecord> {
    let mut latest = BTreeMap::new();
    for r in rounds {
        for m in &r.minutes {
            latest.insert(m.minute, m.clone());
        }
    }
    latest
}

#[test]
fn late_samples_past_the_allowance_are_dropped_and_counted() {
    let mut p = Partition::new(0, Settings::default());
    p.take("v", &[sample("a", "s", 600_000, 0.0, "play_event", "L")], 0, 600_000, None);
    // 130 s behind the watermark: past the 120 s allowance.
    p.take("w", &[sample("b", "t", 470_000, 0.0, "play_event", "L")], 1, 600_000, None);
    // 100 s behind: within it, credited to its own minute.
    p.take("x", &[sample("c", "u", 500_000, 0.0, "ad_start_event", "L")], 2, 600_000, None);
    let r = p.round(0);
    let m = totals(std::slice::from_ref(&r));
    assert_eq!(p.late(), 1);
    assert_eq!(m[&480_000].overall, Counts { plays_started: 1, ad_impressions: 1, ..Counts::default() });
    assert_eq!(m[&600_000].overall.plays_started, 1);
    assert_eq!(r.checkpoint.through, 3);
}

#[test]
fn a_future_stamp_moves_the_watermark_no_further_than_its_record_allows() {
    let mut p = Partition::new(0, Settings::default());
    p.take("v", &[sample("a", "s", 10_000_000, 0.0, "play_event", "L")], 0, 1_000_000, None);
    assert_eq!(p.watermark(), 1_060_000);
    p.take("w", &[sample("b", "t", 1_000_000, 0.0, "play_event", "L")], 1, 1_000_000, None);
    assert_eq!(p.late(), 0);
}

#[test]
fn resuming_from_a_checkpoint_counts_what_follows_it_once() {
    let s = Settings::default();
    let events: Vec<(String, Sample)> = (0..40)
        .map(|i| {
            let ts = 1_000_000 + i * 7_000;
            let e = if i % 9 == 4 { "ad_start_event" } else { "ping_event" };
            (format!("v{}", i % 3), sample(&format!("e{i}"), &format!("s{}", i % 3), ts, (i / 3) as f64 * 7.0, e, "L"))
        })
        .collect();
    // One run, uninterrupted.
    let mut whole = Partition::new(0, s);
    let mut rounds = Vec::new();
    for (i, (v, e)) in events.iter().enumerate() {
        whole.take(v, std::slice::from_ref(e), i as i64, e.ts, None);
        if i % 5 == 4 {
            rounds.push(whole.round(0));
        }
    }
    rounds.push(whole.round(0));
    let expected = totals(&rounds);

    // The same records, with a takeover after record 22 (the checkpoint after record 19).
    let mut first = Partition::new(0, s);
    let mut written = Vec::new();
    for (i, (v, e)) in events.iter().enumerate().take(23) {
        first.take(v, std::slice::from_ref(e), i as i64, e.ts, None);
        if i % 5 == 4 {
            written.push(first.round(0));
        }
    }
    let checkpoint = written.last().unwrap().checkpoint.clone();
    assert_eq!(checkpoint.through, 20);
    let minutes: Vec<MinuteRecord> = totals(&written).into_values().collect();
    let from_ms = Partition::replay_from_ms(&s, &checkpoint).unwrap();
    let mut second = Partition::resume(0, s, Resume { checkpoint: Some(checkpoint), minutes });
    let mut after = written.clone();
    for (i, (v, e)) in events.iter().enumerate() {
        // The replay starts with the records stamped from `from_ms` on.
        if e.ts < from_ms {
            continue;
        }
        second.take(v, std::slice::from_ref(e), i as i64, e.ts, None);
        if i % 5 == 4 && second.counting(i as i64) {
            after.push(second.round(0));
        }
    }
    after.push(second.round(0));
    let resumed = totals(&after);
    let overall = |m: &BTreeMap<i64, MinuteRecord>| m.iter().map(|(k, r)| (*k, r.overall)).filter(|(_, c)| !c.is_zero()).collect::<Vec<_>>();
    assert_eq!(overall(&resumed), overall(&expected));
}

#[test]
fn the_events_of_one_batch_are_not_late_to_each_other() {
    let mut p = Partition::new(0, Settings::default());
    let at = 1_000_000;
    p.take("v", &[sample("a", "s", 100_000, 0.0, "play_event", "L")], 0, at, Some(1));
    // The same batch: a viewer whose events are 200 s later, then one whose are not.
    p.take("w", &[sample("b", "t", 300_000, 0.0, "play_event", "L")], 1, at, Some(1));
    p.take("x", &[sample("c", "u", 110_000, 0.0, "play_event", "L")], 2, at, Some(1));
    assert_eq!(p.late(), 0);
    // The next batch is judged against all of it.
    p.take("y", &[sample("d", "y", 110_000, 0.0, "play_event", "L")], 3, at, Some(2));
    assert_eq!(p.late(), 1);
}

#[test]
fn contents_past_the_bound_are_counted_together() {
    let mut p = Partition::new(0, Settings { max_contents: 2, ..Settings::default() });
    for (i, c) in ["A", "B", "C", "D"].iter().enumerate() {
        p.take("v", &[sample(&format!("e{i}"), &format!("s{i}"), 60_000, 0.0, "play_event", c)], i as i64, 60_000, None);
    }
    let r = p.round(0);
    let keys: Vec<&str> = r.minutes[0].content.keys().map(String::as_str).collect();
    assert_eq!(keys, [OTHER_CONTENT, "A", "B"]);
    assert_eq!(r.minutes[0].content[OTHER_CONTENT].plays_started, 2);
}
