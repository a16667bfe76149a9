//! The simulator as a live source: events are released when their (simulated) time comes, so
//! at speed 1 the profiles move in real time, and batched like any other source.

use crate::config::SimulatorConfig;
use crate::live::wall_ms;
use crate::pipeline::{Pipeline, PipelineError};
use crate::simulator::{SimEvent, Simulator};
use crate::source::{Message, Origin};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn run(
    pipeline: Arc<Pipeline>,
    cfg: SimulatorConfig,
    batch_max: usize,
    batch_wait: Duration,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    if cfg.viewers == 0 {
        let _ = stop.wait_for(|s| *s).await;
        return Ok(());
    }
    let start = wall_ms();
    let mut sim = Simulator::new(cfg.viewers, cfg.seed, cfg.ping_interval_s, start);
    let sim_now = || start + ((wall_ms() - start) as f64 * cfg.speed) as i64;
    let mut pending: Option<SimEvent> = None;
    let mut seq = 0u64;
    loop {
        let now = sim_now();
        let mut batch = Vec::new();
        while batch.len() < batch_max {
            let e = pending.take().unwrap_or_else(|| sim.next_event());
            if e.ts > now {
                pending = Some(e);
                break;
            }
            seq += 1;
            batch.push(Message { payload: e.line.into_bytes(), origin: Origin::Simulator { seq } });
        }
        if !batch.is_empty() {
            match pipeline.process(batch).await {
                Ok(_) => {}
                Err(PipelineError::ShuttingDown) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        if *stop.borrow() {
            return Ok(());
        }
        let due = pending.as_ref().map_or(0, |e| e.ts - sim_now());
        let wait = Duration::from_millis((due.max(0) as f64 / cfg.speed) as u64).clamp(Duration::from_millis(1), batch_wait.max(Duration::from_millis(50)));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}
