//! `liveviewer history VIEWER_ID`: a viewer's status history, newest first, a page at a time
//! (`--limit`, `--before` the `next` cursor of the previous page), as JSON: from a running
//! host's API (`--host`), or from the configured store (a key query on the history table; the
//! embedded store of a running host is locked: ask the host).

use crate::app::open_store;
use crate::config::Config;
use crate::store::HistoryCursor;
use std::io::Write;

pub struct Args {
    pub viewer: String,
    pub limit: usize,
    pub before: Option<String>,
    pub host: Option<String>,
}

pub async fn run(config: Option<Config>, args: Args) -> anyhow::Result<()> {
    let before = match &args.before {
        Some(b) => Some(HistoryCursor::decode(b).ok_or_else(|| anyhow::anyhow!("--before {b:?} is not a cursor a history page gave"))?),
        None => None,
    };
    let page = match &args.host {
        Some(host) => from_host(host, &args).await?,
        None => {
            let config = config.ok_or_else(|| anyhow::anyhow!("no configuration"))?;
            let store = open_store(&config).await?;
            let page = store.history(&args.viewer, before, args.limit).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            serde_json::json!({
                "viewer_id": args.viewer,
                "rows": page.rows.iter().map(crate::http::story_row_json).collect::<Vec<_>>(),
                "next": page.next.map(|c| c.encode()),
            })
        }
    };
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer_pretty(&mut out, &page).map_err(std::io::Error::from).and_then(|()| writeln!(out)) {
        // A reader that stopped reading (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

async fn from_host(host: &str, args: &Args) -> anyhow::Result<serde_json::Value> {
    let mut url = reqwest::Url::parse(host)?.join("/api/viewers/")?.join(&encode_segment(&args.viewer))?;
    url.path_segments_mut().map_err(|_| anyhow::anyhow!("{host} cannot be a base URL"))?.push("history");
    url.query_pairs_mut().append_pair("limit", &args.limit.to_string());
    if let Some(b) = &args.before {
        url.query_pairs_mut().append_pair("before", b);
    }
    let r = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build()?.get(url.clone()).send().await?;
    let status = r.status();
    let body = r.text().await?;
    anyhow::ensure!(status.is_success(), "{url} answered {status}: {body}");
    Ok(serde_json::from_str(&body)?)
}

/// A viewer id as one path segment.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_become_one_segment() {
        assert_eq!(super::encode_segment("a b/c@d"), "a%20b%2Fc%40d");
    }
}
