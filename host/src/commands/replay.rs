//! `liveviewer replay FILE...`: every event of the files through the pipeline, then a summary.

use crate::app::App;
use crate::config::Config;
use crate::dead_letter::DeadLetterSink;
use crate::source::replay::{replay, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

struct Bar(ProgressBar);

impl Progress for Bar {
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

pub async fn run(config: Config, files: Vec<PathBuf>) -> anyhow::Result<()> {
    let app = App::build(config, false).await?;
    let progress: Option<Arc<dyn Progress>> = if std::io::stderr().is_terminal() {
        let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("valid template"),
        );
        Some(Arc::new(Bar(bar)))
    } else {
        None
    };
    let started = Instant::now();
    let report = replay(app.pipeline.clone(), files, app.config.pipeline.batch_max, progress.clone()).await?;
    let seconds = started.elapsed().as_secs_f64();
    // The window counts of what was replayed are kept too (the embedded store's next host
    // shows them).
    if let Some(w) = &app.windows.local {
        let mut no_sample = Some(i64::MAX);
        w.round(&app.live, &mut no_sample).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let where_dead = match app.pipeline.dead_letters() {
        DeadLetterSink::File(f) if report.dead_lettered > 0 => format!(" (dead letters in {})", f.path().display()),
        _ => String::new(),
    };
    let writes = app.metrics.total("liveviewer_store_writes_total");
    println!(
        "replayed {} events: {} applied, {} skipped, {} rejected, {} dead-lettered in {seconds:.2} s, {writes} profile writes{where_dead}",
        report.events, report.applied, report.skipped, report.rejected, report.dead_lettered
    );
    Ok(())
}
