//! Routing a batch's outcomes: a pure function from the messages and the module's results to
//! the events of each viewer (in batch order), the dead letters, and the counts. Nothing here
//! touches a store or a clock of its own.

use super::workers::Results;
use crate::dead_letter::{DeadLetter, Kind};
use crate::message::Message;
use liveviewer_wire::outcome::Apply;
use liveviewer_wire::Outcome;
use std::collections::BTreeMap;

/// The events of one viewer in a batch: (position in the batch, the outcome).
pub type ViewerEvents = Vec<(usize, Apply)>;

#[derive(Debug, Default)]
pub struct Routed {
    pub by_viewer: BTreeMap<String, ViewerEvents>,
    pub letters: Vec<DeadLetter>,
    pub skipped: usize,
    pub rejected: usize,
    /// The kind of each module fault, for the metrics.
    pub faults: Vec<&'static str>,
}

/// Messages larger than `max` never reach the module: they are dead letters at once.
pub fn split_oversized(batch: Vec<Message>, max: usize, version: &str, now_ms: i64) -> (Vec<Message>, Vec<DeadLetter>) {
    let (fit, too_large): (Vec<Message>, Vec<Message>) = batch.into_iter().partition(|m| m.payload.len() <= max);
    let letters = too_large
        .into_iter()
        .map(|m| {
            let reason = format!("message is {} bytes; the limit is {max}", m.payload.len());
            DeadLetter::new(Kind::TooLarge, reason, version, m.origin, &m.payload, now_ms)
        })
        .collect();
    (fit, letters)
}

/// Sorts each result: applies by viewer (those stamped further ahead of `now_ms` than
/// `max_future_s` are dead letters: a far-future event would pin its viewer's state), skips
/// counted, rejections and faults dead-lettered with their reason.
pub fn route(batch: &[Message], results: Results, version: &str, now_ms: i64, max_future_s: u64) -> Routed {
    let mut r = Routed::default();
    let horizon = now_ms + max_future_s as i64 * 1000;
    for (index, (message, result)) in batch.iter().zip(results).enumerate() {
        let letter = |kind, reason: String| DeadLetter::new(kind, reason, version, message.origin.clone(), &message.payload, now_ms);
        match result {
            Ok(Outcome::Apply(a)) if a.at.ts > horizon => {
                let reason = format!(
                    "event time {} is more than {max_future_s} s ahead of the host's clock",
                    liveviewer_wire::time::format_millis(a.at.ts)
                );
                r.letters.push(letter(Kind::TooFarAhead, reason));
            }
            Ok(Outcome::Apply(a)) => r.by_viewer.entry(a.viewer.clone()).or_default().push((index, a)),
            Ok(Outcome::Skip { reason }) => {
                tracing::trace!(origin = ?message.origin, %reason, "skipped");
                r.skipped += 1;
            }
            Ok(Outcome::Reject { reason }) => {
                tracing::trace!(origin = ?message.origin, %reason, "rejected");
                r.rejected += 1;
                r.letters.push(letter(Kind::Rejected, reason));
            }
            Err(fault) => {
                r.faults.push(fault.kind());
                r.letters.push(letter(Kind::ModuleFault, fault.to_string()));
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Origin;
    use crate::module::ModuleFault;
    use liveviewer_wire::OrderKey;

    fn msg(i: u64, bytes: usize) -> Message {
        Message { payload: vec![b'x'; bytes], origin: Origin::Simulator { seq: i } }
    }

    fn apply(viewer: &str, ts: i64) -> Outcome {
        Outcome::Apply(Apply { viewer: viewer.into(), event: "play_event".into(), at: OrderKey { ts, rank: 30, id: format!("e{ts}") }, deltas: vec![] })
    }

    #[test]
    fn every_outcome_lands_in_exactly_one_place_in_batch_order() {
        let batch: Vec<Message> = (0..6).map(|i| msg(i, 10)).collect();
        let results: Results = vec![
            Ok(apply("b", 1_000)),
            Ok(Outcome::Skip { reason: "page view".into() }),
            Ok(apply("a", 2_000)),
            Ok(Outcome::Reject { reason: "bad".into() }),
            Err(ModuleFault::Failed("trap".into())),
            Ok(apply("b", 3_000)),
        ];
        let r = route(&batch, results, "v1", 10_000, 600);
        assert_eq!(r.by_viewer.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(r.by_viewer["b"].iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 5]);
        assert_eq!((r.skipped, r.rejected, r.faults.len(), r.letters.len()), (1, 1, 1, 2));
        assert_eq!(r.letters[0].kind, Kind::Rejected);
        assert_eq!(r.letters[1].kind, Kind::ModuleFault);
    }

    #[test]
    fn far_future_events_and_oversized_messages_are_dead_letters() {
        let batch = vec![msg(0, 10), msg(1, 10)];
        let r = route(&batch, vec![Ok(apply("a", 1_000 + 601_000)), Ok(apply("a", 1_000 + 599_000))], "v1", 1_000, 600);
        assert_eq!(r.letters.len(), 1);
        assert_eq!(r.letters[0].kind, Kind::TooFarAhead);
        assert_eq!(r.by_viewer["a"].len(), 1);
        let (fit, letters) = split_oversized(vec![msg(0, 5), msg(1, 50), msg(2, 20)], 20, "v1", 0);
        assert_eq!(fit.len(), 2);
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].kind, Kind::TooLarge);
    }
}
