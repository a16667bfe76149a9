//! `liveviewer fleet status [--host URL]`: every host of the fleet as one of them sees it, from
//! its `GET /admin/fleet`: the module the fleet should run, and per host its module, whether
//! it is healthy, what it refused, its partitions, events/s and lag.

use anyhow::Context;
use serde_json::Value;

pub async fn status(host: &str, token: Option<String>) -> anyhow::Result<bool> {
    let token = token
        .or_else(|| std::env::var("LIVEVIEWER_ADMIN_TOKEN").ok())
        .context("an admin token is needed: --token or LIVEVIEWER_ADMIN_TOKEN")?;
    let url = format!("{}/admin/fleet", host.trim_end_matches('/'));
    let r = reqwest::Client::new().get(&url).bearer_auth(token).send().await.with_context(|| format!("asking {url}"))?;
    let status = r.status();
    let body: Value = r.json().await.with_context(|| format!("{url} answered {status} without JSON"))?;
    if !status.is_success() {
        anyhow::bail!("{url} answered {status}: {body}");
    }
    print!("{}", render(&body));
    Ok(body["converged"].as_bool().unwrap_or(false))
}

fn short(v: &Value) -> String {
    v.as_str().map(|s| s.trim_start_matches("sha256:").chars().take(12).collect()).unwrap_or_else(|| "-".into())
}

fn render(body: &Value) -> String {
    let mut out = String::new();
    let d = &body["desired"];
    if d.is_null() {
        out.push_str("fleet: no module change published yet (every host on its own module)\n");
    } else {
        out.push_str(&format!(
            "fleet generation {}: active {}, previous {}, shadow {} ({} by {} at {})\n",
            d["generation"], short(&d["active"]), short(&d["previous"]), short(&d["shadow"]),
            d["action"].as_str().unwrap_or("-"), d["by"].as_str().unwrap_or("-"), d["at"].as_str().unwrap_or("-")
        ));
    }
    out.push_str(&format!("{:<28} {:<13} {:<8} {:<10} {:>10} {:>8}  refused\n", "host", "module", "healthy", "partitions", "events/s", "lag"));
    for h in body["hosts"].as_array().into_iter().flatten() {
        let parts: Vec<String> = h["partitions"].as_array().into_iter().flatten().map(|p| p.to_string()).collect();
        let refused = &h["module"]["refused"];
        let refused = if refused.is_null() { String::new() } else { format!("{} at `{}`: {}", short(&refused["version"]), refused["step"].as_str().unwrap_or(""), refused["reason"].as_str().unwrap_or("")) };
        out.push_str(&format!(
            "{:<28} {:<13} {:<8} {:<10} {:>10.1} {:>8}  {}\n",
            h["host_id"].as_str().unwrap_or("-"),
            short(&h["module"]["active"]),
            if h["module"]["healthy"].as_bool().unwrap_or(true) { "yes" } else { "NO" },
            parts.join(","),
            h["events_per_s"].as_f64().unwrap_or(0.0),
            h["lag"].as_i64().map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            refused
        ));
    }
    out.push_str(if body["converged"].as_bool().unwrap_or(false) { "every host runs the fleet's module\n" } else { "NOT converged: some hosts run another module\n" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_host_that_refused_is_shown_with_its_reason() {
        let body = json!({
            "converged": false,
            "desired": {"generation": 4, "active": "sha256:aaaaaaaaaaaaaaaa", "previous": "sha256:bbbbbbbbbbbbbbbb", "shadow": null, "action": "push", "by": "h1", "at": "t"},
            "hosts": [
                {"host_id": "h1", "module": {"active": "sha256:aaaaaaaaaaaaaaaa", "healthy": true, "refused": null}, "partitions": [0, 1], "events_per_s": 12.5, "lag": 3},
                {"host_id": "h2", "module": {"active": "sha256:bbbbbbbbbbbbbbbb", "healthy": true, "refused": {"version": "sha256:aaaaaaaaaaaaaaaa", "step": "vectors", "reason": "3 failed"}}, "partitions": [2], "events_per_s": 0.0, "lag": null},
            ]
        });
        let text = render(&body);
        assert!(text.contains("fleet generation 4: active aaaaaaaaaaaa"), "{text}");
        assert!(text.contains("h2") && text.contains("at `vectors`: 3 failed"), "{text}");
        assert!(text.contains("NOT converged"), "{text}");
    }
}
