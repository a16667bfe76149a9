//! The read stage: the stored profiles of a batch's viewers that the working set lacks, read
//! before the batch's turn to merge. Merges go one batch at a time, in order; a read inside
//! the turn made every batch behind wait for the store (with a new viewer in nearly every
//! batch, the store's read latency was the whole pipeline's). Read ahead, it overlaps the
//! merge of the batch before.
//!
//! What is read ahead is still the profile to merge onto when the turn comes, if the working
//! set dropped nothing in between ([`Working::generation`](super::working::Working::generation)):
//! a viewer missing then and now was never in memory meanwhile, so this host did not write it.
//! Otherwise the missing profiles are read again in the turn. Another host's write in between
//! is caught by the revision condition on the write, as always.

use super::{retry, Pipeline, PipelineError};
use crate::store::Loaded;

/// A batch's stored profiles, read before its turn.
pub(super) struct Prefetched {
    /// The working set's generation when the missing viewers were listed.
    generation: u64,
    loaded: Loaded,
}

impl Pipeline {
    /// Reads the profiles of `viewers` that the working set lacks.
    pub(super) async fn prefetch<'a>(&self, viewers: impl Iterator<Item = &'a String>) -> Result<Prefetched, PipelineError> {
        let (missing, generation) = self.missing_now(viewers);
        Ok(Prefetched { generation, loaded: self.load(&missing).await? })
    }

    /// In the batch's turn: the viewers among `viewers` the working set lacks now, and their
    /// stored profiles (those read ahead, or read again when entries were dropped since).
    pub(super) async fn missing_profiles<'a>(
        &self,
        viewers: impl Iterator<Item = &'a String>,
        prefetched: Prefetched,
    ) -> Result<(Vec<String>, Loaded), PipelineError> {
        let (missing, generation) = self.missing_now(viewers);
        if missing.is_empty() {
            return Ok((missing, Loaded::default()));
        }
        // Nothing dropped since: every viewer missing now was missing then, and was read.
        let loaded = if generation == prefetched.generation { prefetched.loaded } else { self.load(&missing).await? };
        Ok((missing, loaded))
    }

    /// The viewers the working set lacks, with its generation, at one moment.
    fn missing_now<'a>(&self, viewers: impl Iterator<Item = &'a String>) -> (Vec<String>, u64) {
        let working = self.working.lock().expect("working set");
        (working.missing(viewers), working.generation())
    }

    async fn load(&self, viewers: &[String]) -> Result<Loaded, PipelineError> {
        if viewers.is_empty() {
            return Ok(Loaded::default());
        }
        let loaded = retry::forever(self, "profile load", || self.store.load(viewers)).await?;
        self.metrics.inc("liveviewer_store_loads_total", &[], viewers.len() as u64);
        Ok(loaded)
    }
}
