//! Store efficiency against the DynamoDB-API server (moto): profile writes per event and
//! events per second with realistic load (10 000 viewers pinging every 2 s), with one write
//! per event (batches of one) and with the writes of a batch coalesced per viewer.

use liveviewer_testkit::Moto;
use super::{BenchResult, Figure, Options};
use liveviewer::simulator::Simulator;
use std::process::Command;

fn replay(dir: &std::path::Path, moto: &Moto, file: &std::path::Path, batch: usize, tables: &str) -> anyhow::Result<(f64, f64, f64)> {
    let config = dir.join(format!("{tables}.toml"));
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[store]\nkind = \"dynamodb\"\n[store.dynamodb]\nregion = \"us-east-1\"\nendpoint = \"{}\"\nprofiles_table = \"{tables}_p\"\nhistory_table = \"{tables}_h\"\n[pipeline]\nbatch_max = {batch}\n",
            dir.join(tables).display().to_string(),
            moto.endpoint
        ),
    )?;
    let out = Command::new(liveviewer_testkit::bin())
        .args(["replay", "--config", config.to_str().unwrap(), file.to_str().unwrap()])
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("LIVEVIEWER_LOG", "warn")
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    // replayed N events: A applied, S skipped, R rejected, D dead-lettered in T s, W profile writes
    let nums: Vec<f64> = text.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter_map(|s| s.parse().ok()).collect();
    let (events, applied, seconds, writes) = (nums[0], nums[1], nums[5], nums[6]);
    Ok((events / seconds, writes / applied.max(1.0), events))
}

pub async fn run(o: Options) -> BenchResult {
    tokio::task::spawn_blocking(move || run_blocking(&o)).await?
}

fn run_blocking(o: &Options) -> BenchResult {
    let moto = Moto::start();
    let dir = tempfile::tempdir()?;
    let (viewers, warm, many, few) = if o.smoke { (200, 1_000, 2_000, 300) } else { (10_000, 40_000, 20_000, 2_000) };
    // Steady state, not the arrival of 10k viewers (page views and `ready` events first): the
    // events after `warm` simulated ones, when every viewer is watching and pinging.
    let mut sim = Simulator::new(viewers, 11, 2, 1_763_000_000_000);
    let lines: Vec<String> = (0..warm + many).map(|_| sim.next_event().line).skip(warm).collect();
    let all = dir.path().join("all.tsv");
    std::fs::write(&all, lines.join("\n") + "\n")?;
    let head = dir.path().join("head.tsv");
    std::fs::write(&head, lines[..few].join("\n") + "\n")?;
    let runs = if o.smoke { 1 } else { 3 };
    let mut figures = Vec::new();
    let mut reference = None;
    let configs = [
        ("one write per event (batches of 1)", 1, &head),
        ("coalesced, batches of 512", 512, &all),
        ("coalesced, batches of 8192", 8192, &all),
    ];
    for (label, batch, file) in configs {
        let (mut rates, mut per_event) = (Vec::new(), Vec::new());
        for r in 0..runs {
            let (rate, writes, _) = replay(dir.path(), &moto, file, batch, &format!("b{batch}r{r}"))?;
            rates.push(rate);
            per_event.push(writes);
        }
        let rate_fig = Figure::new("store", format!("events/s, {label}"), "events/s", rates);
        let rate_fig = match reference {
            None => {
                reference = Some(rate_fig.value);
                rate_fig
            }
            Some(r) => rate_fig.against("one write per event", r),
        };
        figures.push(rate_fig);
        figures.push(Figure::new("store", format!("profile writes per applied event, {label}"), "writes/event", per_event));
    }
    Ok((
        figures,
        vec![format!(
            "store: moto (DynamoDB API, in memory, one Python process) on loopback; {viewers} simulated viewers pinging every 2 s, in steady state (after {warm} events); replay of {many} events ({few} for one write per event, which is slow); each write is a conditional PutItem of the whole profile. Coalescing saves writes only when a batch spans more than a viewer's ping interval: at 10k viewers pinging every 2 s, a batch of 512 covers about 0.1 s of traffic (a host catching up on a backlog fills batches of 8192, about 1.6 s)."
        )],
    ))
}
