//! `liveviewer profiles [--viewer ID]`: the stored profiles as a JSON array (v1).

use crate::app::open_store;
use crate::config::Config;
use crate::live::Live;
use crate::profile::render;
use crate::store::Scan;

pub async fn run(config: Config, viewer: Option<String>) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let mut states = match &viewer {
        Some(v) => store.get(v).await.map_err(|e| anyhow::anyhow!("{e}"))?.into_iter().collect(),
        None => store.scan(Scan::All).await.map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    states.sort_by(|a, b| a.viewer_id.cmp(&b.viewer_id));
    // The same notion of "now" as the running host would use.
    let live = Live::new(config.active.window_s, config.active.clock, usize::MAX);
    live.seed(&states);
    let ctx = live.render_context();
    let profiles: Vec<_> = states.iter().map(|s| render(s, &ctx)).collect();
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, &profiles).map_err(std::io::Error::from).and_then(|()| {
        use std::io::Write;
        writeln!(out)
    });
    match written {
        // A reader that stopped reading (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
