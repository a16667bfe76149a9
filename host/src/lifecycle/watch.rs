//! Watching the module file: editors and build tools write in pieces (truncate, write,
//! rename), so a change is acted on only once the file has been quiet for a moment. A file
//! that is not a valid candidate is refused with a log line; the active module runs on.

use super::candidate::{Deployer, Mode, Submitted};
use crate::module::ModuleVersion;
use notify::{RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long the file must stay unchanged before it is read.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

pub async fn watch_module_file(path: PathBuf, deployer: Arc<Deployer>) -> anyhow::Result<()> {
    let path = std::path::absolute(&path)?;
    let dir = path.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    let name = path.file_name().map(|n| n.to_owned());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if event.paths.iter().any(|p| p.file_name() == name.as_deref()) {
                let _ = tx.send(());
            }
        }
    })?;
    // The directory, not the file: a rename over the file replaces the watched inode.
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    tracing::info!(path = %path.display(), "watching the module file");
    while rx.recv().await.is_some() {
        // Quiet period: every further change restarts it.
        loop {
            match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return Ok(()),
                Err(_) => break,
            }
        }
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "module file changed but cannot be read");
                continue;
            }
        };
        let version = ModuleVersion::of_bytes(&bytes);
        match deployer.submit(bytes, &path.display().to_string(), Mode::Active).await {
            Ok(Submitted::Unchanged(_)) => tracing::debug!(version = %version.short(), "module file unchanged"),
            Ok(_) => tracing::info!(version = %version.short(), "module file swapped in"),
            Err(refusal) => tracing::warn!(
                path = %path.display(),
                step = %refusal.step,
                reason = %refusal.reason,
                "module file refused; the active module keeps running"
            ),
        }
    }
    drop(watcher);
    Ok(())
}
