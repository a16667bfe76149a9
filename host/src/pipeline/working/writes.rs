//! Writing the working set behind: taking the profiles that are due, each encoded once, and
//! settling their entries by what the store answered (written, lost to another writer,
//! refused for good, to be tried again).

use super::{Pending, Working};
use super::super::merge::{merge_viewer, Event};
use crate::profile::{Bounds, ProfileState};
use crate::store::{HistoryRow, Stored, Write};
use std::time::Instant;

/// A write taken from the working set, and what it covers.
pub struct Job {
    pub write: Write,
    pub meta: JobMeta,
}

/// What a write covered, to settle the entry once the store has answered.
pub struct JobMeta {
    pub viewer: String,
    pub expected_rev: u64,
    pub history: Vec<HistoryRow>,
    /// How many of the entry's pending events the write covers.
    covered: usize,
}

impl Working {
    /// Takes the writes that are due at `now` (every dirty entry when `all`), at most `max`,
    /// those due longest first: each profile encoded once, with the history rows to write
    /// before it.
    pub fn take_due(&mut self, now: Instant, all: bool, max: usize) -> Vec<Job> {
        let mut due: Vec<(Instant, &String)> =
            self.entries.iter().filter_map(|(k, e)| e.due.filter(|d| all || *d <= now).map(|d| (d, k))).collect();
        if due.len() > max {
            due.select_nth_unstable(max);
            due.truncate(max);
        }
        let viewers: Vec<String> = due.into_iter().map(|(_, k)| k.clone()).collect();
        let mut jobs = Vec::with_capacity(viewers.len());
        for viewer in viewers {
            let entry = self.entries.get_mut(&viewer).expect("listed above");
            let write = Write::new(entry.held.tree(), entry.stored_rev);
            let meta = JobMeta { viewer, expected_rev: entry.stored_rev, history: std::mem::take(&mut entry.history), covered: entry.pending.len() };
            jobs.push(Job { write, meta });
        }
        jobs
    }

    /// The write landed: the events it covered are settled (and handed back, for the caller
    /// to drop once it has let go of the working set: freeing thousands of outcomes under the
    /// lock held the batch behind waiting); what was merged since stays due.
    pub fn written(&mut self, job: JobMeta) -> Vec<Pending> {
        let Some(entry) = self.entries.get_mut(&job.viewer) else { return Vec::new() };
        let first_before = entry.first_seq();
        entry.stored_rev = job.expected_rev + 1;
        let settled: Vec<Pending> = entry.pending.drain(..job.covered.min(entry.pending.len())).collect();
        if entry.pending.is_empty() {
            entry.due = None;
        }
        let first_after = entry.first_seq();
        self.move_unwritten(first_before, first_after);
        settled
    }

    /// Another writer got there first: `stored` is its profile; this host's unwritten events
    /// are merged onto it again and the entry is due at once. The merge's history rows are
    /// written again too (they are idempotent).
    pub fn rebase(&mut self, viewer: &str, stored: Option<Stored>, version: &str, bounds: &Bounds, history: Vec<HistoryRow>) {
        let Some(entry) = self.entries.get_mut(viewer) else { return };
        let (state, rev) = match stored {
            Some(s) => (s.state, s.rev),
            None => (ProfileState::new(viewer), 0),
        };
        let refs: Vec<Event<'_>> = entry.pending.iter().enumerate().map(|(i, p)| Event { index: i, apply: &p.apply, watermark: p.watermark.clone() }).collect();
        let m = merge_viewer(state, &refs, version, bounds);
        entry.held = super::Held::Tree(Box::new(m.state));
        entry.stored_rev = rev;
        entry.history.extend(history);
        entry.history.extend(m.history);
        entry.due = Some(Instant::now());
    }

    /// The write will not be made (the store refused the profile for good): the entry goes,
    /// and its unwritten events are returned for the dead letters. The next event of the
    /// viewer loads the stored profile again.
    pub fn refused(&mut self, viewer: &str) -> Vec<Pending> {
        let Some(entry) = self.entries.remove(viewer) else { return Vec::new() };
        let first = entry.first_seq();
        self.move_unwritten(first, None);
        entry.pending
    }

    /// A write to be tried again later (throttled): its history rows go back.
    pub fn retry_later(&mut self, job: JobMeta) {
        if let Some(entry) = self.entries.get_mut(&job.viewer) {
            let mut history = job.history;
            history.append(&mut entry.history);
            entry.history = history;
        }
    }

    fn move_unwritten(&mut self, from: Option<u64>, to: Option<u64>) {
        if from == to {
            return;
        }
        if let Some(f) = from {
            if let Some(n) = self.unwritten.get_mut(&f) {
                *n -= 1;
                if *n == 0 {
                    self.unwritten.remove(&f);
                }
            }
        }
        if let Some(t) = to {
            *self.unwritten.entry(t).or_insert(0) += 1;
        }
    }

    /// When the next entry is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.entries.values().filter_map(|e| e.due).min()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_round_takes_at_most_its_share_those_due_longest_first() {
        let mut w = working();
        for i in 1..=4 {
            add_viewer(&mut w, i);
            std::thread::sleep(Duration::from_millis(2));
        }
        let late = Instant::now() + Duration::from_secs(60);
        let first = w.take_due(late, false, 2);
        let mut names: Vec<&str> = first.iter().map(|j| j.meta.viewer.as_str()).collect();
        names.sort();
        assert_eq!(names, ["v1", "v2"]);
        for j in first {
            w.written(j.meta);
        }
        let mut rest: Vec<String> = w.take_due(late, false, 10).into_iter().map(|j| j.meta.viewer).collect();
        rest.sort();
        assert_eq!(rest, ["v3", "v4"]);
    }

    #[test]
    fn a_batch_is_durable_once_every_change_of_it_is_written() {
        let mut w = working();
        w.insert("u", None);
        let s1 = w.next_seq();
        w.merge("v", vec![event(1, "W", 1.0)], s1, false, "m", &Bounds::default(), &POLICY);
        assert_eq!(w.durable_seq(), 0);
        let jobs = w.take_due(Instant::now(), true, usize::MAX);
        // Merged while the write was in flight: the write does not cover it.
        let s2 = w.next_seq();
        w.merge("v", vec![event(2, "P", 1.0)], s2, false, "m", &Bounds::default(), &POLICY);
        for j in jobs {
            w.written(j.meta);
        }
        assert_eq!(w.durable_seq(), s1, "batch 1 written, batch 2 not yet");
        assert_eq!(w.get("v").unwrap().pending.len(), 1);
        for j in w.take_due(Instant::now(), true, usize::MAX) {
            w.written(j.meta);
        }
        assert_eq!(w.durable_seq(), s2);
        assert_eq!(w.dirty(), 0);
        // A batch that changed nothing is durable at once.
        let s3 = w.next_seq();
        assert_eq!(w.durable_seq(), s3);
    }

    #[test]
    fn a_lost_conditional_write_is_repaired_by_merging_the_unwritten_events_again() {
        let mut w = working();
        let s1 = w.next_seq();
        w.merge("v", vec![event(5, "W", 5.0)], s1, false, "m", &Bounds::default(), &POLICY);
        let job = w.take_due(Instant::now(), true, usize::MAX).pop().unwrap();
        // Another host stored a profile with an older event of its own.
        let mut theirs = ProfileState::new("v");
        let (a, _, _) = event(1, "P", 1.0);
        theirs.apply(&a, &Bounds::default());
        w.rebase("v", Some(Stored { state: theirs, rev: 7 }), "m", &Bounds::default(), job.meta.history);
        let e = w.get("v").unwrap();
        assert_eq!(e.stored_rev, 7);
        assert_eq!(e.state().revision, 2, "their event and ours");
        assert_eq!(e.state().states["status"].current().unwrap().0, "W", "ours is newer");
        let job = w.take_due(Instant::now(), false, usize::MAX).pop().expect("due at once");
        assert_eq!(job.write.expected_rev, 7);
        w.written(job.meta);
        assert_eq!(w.durable_seq(), s1);
    }
}
