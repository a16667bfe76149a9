//! Benchmarks: figures as ratios against a reference measured in the same run on the same
//! machine (absolute times on a shared machine are noise), each the median of several runs
//! with its spread. `liveviewer bench` writes BENCHMARKS.md and benchmarks.json; `--smoke`
//! runs every benchmark at tiny sizes so they keep compiling and running in the test suite.

mod memory;
mod pipeline;
mod services;
mod store;
mod swap;
mod transform;
pub use transform::events as transform_events;

use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Options {
    pub smoke: bool,
    pub out: PathBuf,
    /// Only these benchmarks (by name); all when empty.
    pub only: Vec<String>,
    /// The release binary the process benchmarks start.
    pub bin: PathBuf,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub bench: &'static str,
    pub name: String,
    pub unit: String,
    /// Median of the runs.
    pub value: f64,
    /// Smallest and largest run.
    pub spread: (f64, f64),
    pub runs: Vec<f64>,
    /// What it is compared with, and the ratio value / reference.
    pub reference: Option<String>,
    pub ratio: Option<f64>,
    /// The goal, and whether the median meets it.
    pub goal: Option<String>,
    pub met: Option<bool>,
}

impl Figure {
    pub fn new(bench: &'static str, name: impl Into<String>, unit: &str, runs: Vec<f64>) -> Figure {
        let (value, spread) = median_spread(&runs);
        Figure {
            bench,
            name: name.into(),
            unit: unit.to_owned(),
            value,
            spread,
            runs,
            reference: None,
            ratio: None,
            goal: None,
            met: None,
        }
    }

    pub fn against(mut self, reference: impl Into<String>, reference_value: f64) -> Figure {
        self.reference = Some(reference.into());
        self.ratio = (reference_value > 0.0).then(|| self.value / reference_value);
        self
    }

    pub fn goal(mut self, text: impl Into<String>, met: bool) -> Figure {
        self.goal = Some(text.into());
        self.met = Some(met);
        self
    }
}

pub fn median_spread(runs: &[f64]) -> (f64, (f64, f64)) {
    if runs.is_empty() {
        return (f64::NAN, (f64::NAN, f64::NAN));
    }
    let mut v = runs.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 0 { (v[mid - 1] + v[mid]) / 2.0 } else { v[mid] };
    (median, (v[0], v[v.len() - 1]))
}

/// A percentile of samples (0-100).
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

#[derive(Debug, Serialize)]
struct Report {
    generated_at: String,
    smoke: bool,
    machine: Machine,
    figures: Vec<Figure>,
    notes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Machine {
    cores: usize,
    load_before: String,
    load_after: String,
    cpu: String,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned()))
        .unwrap_or_default()
}

pub type BenchResult = anyhow::Result<(Vec<Figure>, Vec<String>)>;

pub async fn run(opts: Options) -> anyhow::Result<bool> {
    let load_before = loadavg();
    let started = Instant::now();
    let mut figures = Vec::new();
    let mut notes = Vec::new();
    let wanted = |name: &str| opts.only.is_empty() || opts.only.iter().any(|o| o == name);
    let benches: Vec<(&str, BenchFn)> = vec![
        ("transform", Box::new(|o| Box::pin(transform::run(o)))),
        ("pipeline", Box::new(|o| Box::pin(pipeline::throughput(o)))),
        ("latency", Box::new(|o| Box::pin(pipeline::latency(o)))),
        ("store", Box::new(|o| Box::pin(store::run(o)))),
        ("swap", Box::new(|o| Box::pin(swap::run(o)))),
        ("memory", Box::new(|o| Box::pin(memory::run(o)))),
    ];
    let mut ok = true;
    for (name, bench) in benches {
        if !wanted(name) {
            continue;
        }
        eprintln!("bench: {name} ...");
        let t = Instant::now();
        match bench(opts.clone()).await {
            Ok((f, n)) => {
                for fig in &f {
                    eprintln!("  {:<48} {:>14.2} {}{}", fig.name, fig.value, fig.unit, fig.ratio.map(|r| format!("  (ratio {r:.2})")).unwrap_or_default());
                }
                figures.extend(f);
                notes.extend(n);
            }
            Err(e) => {
                ok = false;
                eprintln!("  failed: {e:#}");
                notes.push(format!("{name}: failed: {e:#}"));
            }
        }
        eprintln!("  ({:.0} s)", t.elapsed().as_secs_f64());
    }
    let report = Report {
        generated_at: liveviewer_wire::time::format_millis(crate::live::wall_ms()),
        smoke: opts.smoke,
        machine: Machine { cores: std::thread::available_parallelism().map_or(1, |n| n.get()), load_before, load_after: loadavg(), cpu: cpu_model() },
        figures,
        notes,
    };
    std::fs::create_dir_all(&opts.out)?;
    std::fs::write(opts.out.join("benchmarks.json"), serde_json::to_string_pretty(&report)?)?;
    std::fs::write(opts.out.join("BENCHMARKS.md"), markdown(&report, started.elapsed().as_secs_f64()))?;
    eprintln!("bench: wrote {} and benchmarks.json", opts.out.join("BENCHMARKS.md").display());
    Ok(ok)
}

type BenchFn = Box<dyn Fn(Options) -> std::pin::Pin<Box<dyn std::future::Future<Output = BenchResult> + Send>>>;

fn num(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn markdown(r: &Report, seconds: f64) -> String {
    let mut s = String::new();
    s.push_str("# Benchmarks\n\n");
    if r.smoke {
        s.push_str("**Smoke run: tiny sizes, to check the harness runs; the figures mean nothing.**\n\n");
    }
    s.push_str(&format!(
        "Generated {} by `./scripts/bench.sh` in {:.0} s on {} cores ({}); load average before {}, after {}. \
         Each figure is the median of its runs, with the smallest and largest; ratios compare with a \
         reference measured in the same run on the same machine.\n\n",
        r.generated_at, seconds, r.machine.cores, r.machine.cpu, r.machine.load_before, r.machine.load_after
    ));
    s.push_str("| benchmark | figure | value | runs (min - max) | reference | ratio | goal | met |\n");
    s.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for f in &r.figures {
        s.push_str(&format!(
            "| {} | {} | {} {} | {} ({} - {}) | {} | {} | {} | {} |\n",
            f.bench,
            f.name,
            num(f.value),
            f.unit,
            f.runs.len(),
            num(f.spread.0),
            num(f.spread.1),
            f.reference.as_deref().unwrap_or(""),
            f.ratio.map(num).unwrap_or_default(),
            f.goal.as_deref().unwrap_or(""),
            match f.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
        ));
    }
    if !r.notes.is_empty() {
        s.push_str("\n## Notes\n\n");
        for n in &r.notes {
            s.push_str(&format!("- {n}\n"));
        }
    }
    s
}
