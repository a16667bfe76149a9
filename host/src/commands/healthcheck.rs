//! `liveviewer healthcheck [URL]`: exit 0 when the host answers 200, for container health
//! checks (no curl needed in the image).

pub async fn run(url: String) -> anyhow::Result<bool> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => Ok(true),
        Ok(r) => {
            eprintln!("{url}: {}", r.status());
            Ok(false)
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            Ok(false)
        }
    }
}
