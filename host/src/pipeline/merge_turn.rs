//! A batch's turn: the profiles the working set lacks are put in, each viewer's events merge
//! into its profile, the changed profiles are rendered once and sent to every host's live
//! view. Runs one batch at a time, in the order batches were handed over (see [`super::turn`]).

use super::read::Prefetched;
use super::{publish, route, BatchReport, Pipeline, PipelineError};
use crate::dead_letter::{DeadLetter, Kind};
use crate::message::Message;
use crate::windows::sample::Sample;
use std::collections::BTreeMap;

impl Pipeline {
    /// Puts the profiles of the viewers the working set lacks into it (read ahead, or read
    /// again when the working set dropped entries since), merges each viewer's events,
    /// sends the changed profiles; returns the batch's number and the publication under way.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn merge_and_publish(
        &self,
        batch: &[Message],
        mut by_viewer: BTreeMap<String, route::ViewerEvents>,
        prefetched: Prefetched,
        version: &str,
        urgent: bool,
        report: &mut BatchReport,
        letters: &mut Vec<DeadLetter>,
        now: i64,
    ) -> Result<(u64, publish::Publication), PipelineError> {
        let (missing, loaded) = self.missing_profiles(by_viewer.keys(), prefetched).await?;
        if !missing.is_empty() {
            for (viewer, reason) in &loaded.unreadable {
                // One unreadable item stops nothing else: its viewer's events wait in the
                // dead letters, with the reason and the item's key, for the operator.
                tracing::error!(%viewer, %reason, "stored profile cannot be read; its events are dead-lettered (repair: liveviewer profiles --delete)");
                self.metrics.inc("liveviewer_unreadable_profiles_total", &[], 1);
                for (i, _) in by_viewer.remove(viewer).unwrap_or_default() {
                    let m = &batch[i];
                    let why = format!("the stored profile of viewer {viewer:?} cannot be read: {reason}");
                    letters.push(DeadLetter::new(Kind::StoreRefused, why, version, m.origin.clone(), &m.payload, now));
                }
            }
            let mut working = self.working.lock().expect("working set");
            let mut found = loaded.found;
            for viewer in missing.iter().filter(|v| by_viewer.contains_key(*v)) {
                working.insert(viewer, found.remove(viewer));
            }
        }
        let mut changed: Vec<publish::Rendered> = Vec::new();
        let ctx = self.publisher.render_context();
        // What the windowed metrics count of each changed profile's events, published with it.
        let mut samples: Vec<Vec<Sample>> = Vec::new();
        let seq = {
            let mut working = self.working.lock().expect("working set");
            let seq = working.next_seq();
            for (viewer, events) in by_viewer {
                let refs: Vec<(usize, &liveviewer_wire::outcome::Apply)> = events.iter().map(|(i, a)| (*i, a)).collect();
                if working.would_exceed(&viewer, &refs, self.config.max_profile_bytes, version, &self.bounds) {
                    tracing::warn!(%viewer, "profile would pass its size limit; its events are dead-lettered");
                    for (i, _) in &events {
                        let m = &batch[*i];
                        let reason = format!("the viewer's profile would grow past {} bytes", self.config.max_profile_bytes);
                        letters.push(DeadLetter::new(Kind::ProfileTooLarge, reason, version, m.origin.clone(), &m.payload, now));
                    }
                    continue;
                }
                let viewer_samples: Vec<Sample> = events.iter().map(|(_, a)| Sample::of(a)).collect();
                let events: Vec<_> = events.into_iter().map(|(i, a)| (a, batch[i].origin.watermark(), batch[i].origin.clone())).collect();
                let m = working.merge(&viewer, events, seq, urgent, version, &self.bounds, &self.policy);
                if m.duplicates > 0 {
                    tracing::debug!(%viewer, duplicates = m.duplicates, "redelivered events not merged again");
                }
                self.metrics.inc("liveviewer_deltas_dropped_total", &[], m.dropped_deltas as u64);
                if m.new_logs > 0 {
                    tracing::warn!(%viewer, events = m.new_logs, "events below the partition's watermark but newer than its log: the log started again (a re-created topic?); merged as new");
                    self.metrics.inc("liveviewer_new_log_events_total", &[], m.new_logs as u64);
                }
                report.applied += m.applied;
                report.duplicates += m.duplicates;
                if m.changed {
                    // Rendered here, once: no copy of the profile leaves the working set.
                    changed.push(publish::Rendered::of(&working.get(&viewer).expect("just merged").state(), &ctx));
                    samples.push(viewer_samples);
                }
            }
            working.evict(self.config.max_cached_profiles);
            self.metrics.set("liveviewer_working_profiles", &[], working.len() as f64);
            self.metrics.set("liveviewer_unwritten_profiles", &[], working.dirty() as f64);
            seq
        };
        let sending = self.publisher.send(&changed, &samples);
        let publication = publish::Publication { changed, samples, sending };
        // A batch that changed nothing is durable as soon as it is merged.
        self.announce_durable();
        // Too many unwritten profiles: write them all before taking more.
        if self.working.lock().expect("working set").dirty() > self.config.max_cached_profiles {
            self.flush_all().await?;
        }
        Ok((seq, publication))
    }
}
