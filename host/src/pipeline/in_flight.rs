//! Two batches in flight for a source: while one is merged, the next runs the module (the
//! pipeline keeps their merges in order). A source hands each batch over with a tag (e.g. its
//! offsets) and gets batches back, in order, once they are merged and published; it commits
//! them once [`Pipeline::wait_durable`] says they are written.

use super::{Accepted, Pipeline, PipelineError};
use crate::source::Message;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::task::JoinHandle;

pub struct InFlight<T> {
    pipeline: Arc<Pipeline>,
    depth: usize,
    queue: VecDeque<(JoinHandle<Result<Accepted, PipelineError>>, T)>,
}

impl<T> InFlight<T> {
    /// At most `depth` batches at once (1: one after the other).
    pub fn new(pipeline: Arc<Pipeline>, depth: usize) -> Self {
        InFlight { pipeline, depth: depth.max(1), queue: VecDeque::new() }
    }

    /// Starts `batch`; returns the batches that had to finish to make room, oldest first.
    pub async fn push(&mut self, batch: Vec<Message>, tag: T) -> Result<Vec<(Accepted, T)>, PipelineError> {
        let pipeline = self.pipeline.clone();
        // The write order is fixed here, in the source's order, not by which task runs first.
        let turn = pipeline.ticket();
        self.queue.push_back((tokio::spawn(async move { pipeline.process_in_turn(batch, turn).await }), tag));
        let mut done = Vec::new();
        while self.queue.len() >= self.depth {
            done.push(self.next().await?);
        }
        Ok(done)
    }

    /// Waits for every batch still in flight, oldest first.
    pub async fn drain(&mut self) -> Result<Vec<(Accepted, T)>, PipelineError> {
        let mut done = Vec::new();
        while !self.queue.is_empty() {
            done.push(self.next().await?);
        }
        Ok(done)
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Waits for the oldest batch in flight (forever when there is none). Cancel-safe: the
    /// batch leaves the queue only once it has finished, so a source can select on it while
    /// it waits for messages.
    pub async fn next(&mut self) -> Result<(Accepted, T), PipelineError> {
        let finished = match self.queue.front_mut() {
            Some((handle, _)) => handle.await,
            None => return std::future::pending().await,
        };
        let (_, tag) = self.queue.pop_front().expect("the batch that finished");
        let report = match finished {
            Ok(report) => report?,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => return Err(PipelineError::ShuttingDown),
            },
        };
        Ok((report, tag))
    }
}

impl<T> Drop for InFlight<T> {
    /// Batches still in flight when their source gives up are not durable as far as the
    /// source knows; the pipeline's write order stops any of them from writing after one
    /// that failed.
    fn drop(&mut self) {
        for (handle, _) in &self.queue {
            handle.abort();
        }
    }
}
