//! `liveviewer profiles [--viewer ID]`: the stored profiles as a JSON array (v1), read in
//! full from the store: the explicit export, the one command that reads every profile.
//! `--delete ID` removes one viewer's item (the repair for an item the host cannot read: its
//! events wait in the dead letters, and replaying them rebuilds the profile).

use crate::app::open_store;
use crate::config::Config;
use crate::live::Live;
use crate::profile::render;

pub async fn run(config: Config, viewer: Option<String>, delete: Option<String>) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    if let Some(v) = delete {
        let existed = store.delete(&v).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("{}", if existed { format!("deleted the profile of {v:?}") } else { format!("no profile of {v:?}") });
        return Ok(());
    }
    let mut states = match &viewer {
        Some(v) => store.get(v).await.map_err(|e| anyhow::anyhow!("{e}"))?.into_iter().collect(),
        None => store.export().await.map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    states.sort_by(|a, b| a.viewer_id.cmp(&b.viewer_id));
    // The same notion of "now" as the running host would use.
    let live = Live::new(config.active.window_s, config.active.clock, usize::MAX);
    live.apply_states(&states);
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
