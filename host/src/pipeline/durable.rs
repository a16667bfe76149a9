//! Durability: a batch is durable once every change of it is written; its source may commit
//! it only then. The writer announces the highest batch below which all are durable.

use super::{Pipeline, PipelineError};
use crate::store::StoreError;
use tokio::sync::watch;

/// How far the background writes have got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durable {
    /// Every batch up to this one is durable.
    pub seq: u64,
    /// The writer stopped for good (a misconfigured store).
    pub failed: Option<String>,
}

impl Pipeline {
    /// Waits until batch `seq` is durable.
    pub async fn wait_durable(&self, seq: u64) -> Result<(), PipelineError> {
        let mut rx = self.durable.subscribe();
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            d = rx.wait_for(|d| d.seq >= seq || d.failed.is_some()) => {
                let d = d.map_err(|_| PipelineError::ShuttingDown)?;
                match &d.failed {
                    Some(reason) if d.seq < seq => Err(PipelineError::Store(StoreError::Fatal(reason.clone()))),
                    _ => Ok(()),
                }
            }
            _ = shutdown.wait_for(|s| *s) => Err(PipelineError::ShuttingDown),
        }
    }

    /// How far the writes have got, for a source that commits as batches become durable.
    pub fn durable(&self) -> watch::Receiver<Durable> {
        self.durable.subscribe()
    }

    pub(super) fn announce_durable(&self) {
        let seq = self.working.lock().expect("working set").durable_seq();
        self.durable.send_if_modified(|d| {
            if d.seq < seq {
                d.seq = seq;
                true
            } else {
                false
            }
        });
    }
}
