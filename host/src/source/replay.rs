//! Replay: files of enriched TSV lines or Snowbridge JSON lines (`-` for stdin), one event
//! per line, through the same pipeline as live traffic. Blank lines are not events.

use super::{Message, Origin};
use crate::pipeline::in_flight::InFlight;
use crate::pipeline::{BatchReport, Pipeline};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// How far the reader has got, for a progress bar.
pub trait Progress: Send + Sync {
    fn advance(&self, bytes: u64);
}

pub async fn replay(
    pipeline: Arc<Pipeline>,
    files: Vec<PathBuf>,
    batch_max: usize,
    progress: Option<Arc<dyn Progress>>,
) -> anyhow::Result<BatchReport> {
    let (tx, mut rx) = mpsc::channel::<anyhow::Result<Vec<Message>>>(2);
    let reader = tokio::task::spawn_blocking(move || {
        for file in files {
            if let Err(e) = read_file(&file, batch_max, &tx, progress.as_deref()) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    });
    let mut total = BatchReport::default();
    let mut in_flight = InFlight::new(pipeline.clone(), 2);
    let mut add = |done: Vec<(crate::pipeline::Accepted, ())>| {
        for (accepted, ()) in done {
            total.add(&accepted.report);
            total.module_version = accepted.report.module_version;
        }
    };
    while let Some(batch) = rx.recv().await {
        add(in_flight.push(batch?, ()).await?);
    }
    add(in_flight.drain().await?);
    reader.await?;
    // Everything merged is written before the replay says it is done.
    pipeline.flush_all().await?;
    Ok(total)
}

fn read_file(
    file: &PathBuf,
    batch_max: usize,
    tx: &mpsc::Sender<anyhow::Result<Vec<Message>>>,
    progress: Option<&dyn Progress>,
) -> anyhow::Result<()> {
    let name = file.display().to_string();
    let input: Box<dyn Read> = if name == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(file).map_err(|e| anyhow::anyhow!("{name}: {e}"))?)
    };
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut batch = Vec::with_capacity(batch_max);
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some(p) = progress {
            p.advance(n as u64);
        }
        let mut payload = buf.as_slice();
        if payload.last() == Some(&b'\n') {
            payload = &payload[..payload.len() - 1];
        }
        if payload.last() == Some(&b'\r') {
            payload = &payload[..payload.len() - 1];
        }
        if payload.is_empty() {
            continue;
        }
        batch.push(Message { payload: payload.to_vec(), origin: Origin::File { file: name.clone(), line: line_no } });
        if batch.len() == batch_max {
            if tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err() {
                return Ok(());
            }
            batch.reserve(batch_max);
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Ok(batch));
    }
    Ok(())
}
