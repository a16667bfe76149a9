//! What the pipeline says about a batch: its report, its acceptance, and the errors that
//! tell its source what to do next.

use crate::store::StoreError;

/// What became of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub events: usize,
    pub applied: usize,
    pub skipped: usize,
    pub rejected: usize,
    pub dead_lettered: usize,
    pub duplicates: usize,
    pub module_faults: usize,
    pub module_version: String,
}

impl BatchReport {
    pub fn add(&mut self, other: &BatchReport) {
        self.events += other.events;
        self.applied += other.applied;
        self.skipped += other.skipped;
        self.rejected += other.rejected;
        self.dead_lettered += other.dead_lettered;
        self.duplicates += other.duplicates;
        self.module_faults += other.module_faults;
    }
}

/// A batch merged and published: durable once [`super::Pipeline::wait_durable`] says so.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub report: BatchReport,
    pub seq: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store cannot work as configured: stop the host.
    #[error(transparent)]
    Store(StoreError),
    /// Shutdown came while the batch waited on a store that is down; nothing was committed, so
    /// the source will deliver the batch again.
    #[error("shutting down before the batch was durable")]
    ShuttingDown,
    /// The batch was refused because an earlier batch in flight with it failed to merge or
    /// write; its source delivers it again (not a shutdown: the source goes on).
    #[error("refused: an earlier batch in flight failed")]
    Refused,
}
