//! Benchmarks: figures as ratios against a reference measured in the same run on the same
//! machine (absolute times on a shared machine are noise), each the median of several runs
//! with its spread. `liveviewer-bench` writes BENCHMARKS.md and benchmarks.json; `--smoke`
//! runs every benchmark at tiny sizes so they keep compiling and running in the test suite.
//! The services they run against (Apache Kafka, moto) and the release host binary come from
//! the test kit, the same as the black-box tests'.

mod analysis;
mod dashboard;
mod latency;
mod memory;
mod pipeline;
mod store;
mod swap;
mod transform;
pub use transform::events as transform_events;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Options {
    pub smoke: bool,
    pub out: PathBuf,
    /// Only these benchmarks (by name); all when empty.
    pub only: Vec<String>,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    pub bench: String,
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
            bench: bench.to_owned(),
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
    let median = if v.len().is_multiple_of(2) { (v[mid - 1] + v[mid]) / 2.0 } else { v[mid] };
    (median, (v[0], v[v.len() - 1]))
}

/// A simulated TSV line stamped at `ms`: its collector, device-created, device-sent and
/// derived timestamps, so that the host takes it as happening now.
fn restamp(line: &str, ms: i64) -> String {
    let t = liveviewer::simulator::tsv::tsv_time(ms);
    let mut f: Vec<&str> = line.split('\t').collect();
    for i in [3, 4, 119, 124] {
        f[i] = &t;
    }
    f.join("\t")
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

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    generated_at: String,
    /// How long the whole run took.
    #[serde(default)]
    seconds: f64,
    smoke: bool,
    /// Merged from several runs (`render`): each benchmark's note names its run, and
    /// `generated_at` lists the runs.
    #[serde(default)]
    merged: bool,
    machine: Machine,
    figures: Vec<Figure>,
    /// For each goal not met: where the time goes, what was fixed, what is left.
    #[serde(default)]
    analysis: Vec<String>,
    notes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
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
        ("latency", Box::new(|o| Box::pin(latency::latency(o)))),
        ("store", Box::new(|o| Box::pin(store::run(o)))),
        ("swap", Box::new(|o| Box::pin(swap::run(o)))),
        ("memory", Box::new(|o| Box::pin(memory::run(o)))),
        ("dashboard", Box::new(|o| Box::pin(dashboard::run(o)))),
    ];
    let mut ok = true;
    for (name, bench) in benches {
        if !wanted(name) {
            continue;
        }
        eprintln!("bench: {name} ...");
        let t = Instant::now();
        // A panic in a benchmark (a service that would not start) fails that benchmark only.
        let outcome = tokio::spawn(bench(opts.clone())).await.unwrap_or_else(|e| Err(anyhow::anyhow!("panicked: {e}")));
        match outcome {
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
        generated_at: liveviewer_wire::time::format_millis(liveviewer::live::wall_ms()),
        seconds: started.elapsed().as_secs_f64(),
        smoke: opts.smoke,
        merged: false,
        machine: Machine { cores: std::thread::available_parallelism().map_or(1, |n| n.get()), load_before, load_after: loadavg(), cpu: cpu_model() },
        analysis: analysis::analysis(&figures),
        figures,
        notes,
    };
    write(&report, &opts.out)?;
    Ok(ok)
}

/// Writes BENCHMARKS.md again from the figures of earlier runs' benchmarks.json (when the
/// analysis or the layout changed, or one benchmark was run again with `--only`), measuring
/// nothing. A later file's benchmarks replace the same benchmarks of the earlier ones.
pub fn render(jsons: &[std::path::PathBuf], out: &std::path::Path) -> anyhow::Result<()> {
    let mut merged: Option<Report> = None;
    for json in jsons {
        let report: Report = serde_json::from_str(&std::fs::read_to_string(json)?)?;
        merged = Some(match merged {
            None => report,
            Some(mut m) => {
                if !m.merged {
                    // One run so far: its benchmarks' notes name it, as a later run's do. (A
                    // file merged before this note existed names its runs in one line; the
                    // first is the one its benchmarks without a note come from.)
                    let at = m.generated_at.split(" and ").next().unwrap_or_default().trim_end_matches(" (runs merged)").to_owned();
                    let notes: Vec<String> =
                        benches_of(&m.figures).iter().filter(|b| measured_at(&m.notes, b).is_none()).map(|b| measured(b, &at, &m.machine)).collect();
                    m.notes.extend(notes);
                    m.merged = true;
                }
                let replaced = benches_of(&report.figures);
                m.figures.retain(|f| !replaced.contains(&f.bench));
                m.figures.extend(report.figures);
                m.notes.retain(|n| !replaced.iter().any(|b| n.starts_with(&format!("{b}:"))));
                for b in &replaced {
                    if measured_at(&report.notes, b).is_none() {
                        m.notes.push(measured(b, &report.generated_at, &report.machine));
                    }
                }
                m.notes.extend(report.notes);
                // The runs the table's figures come from, each once.
                let mut runs: Vec<&str> = benches_of(&m.figures).iter().filter_map(|b| measured_at(&m.notes, b)).collect();
                runs.sort_unstable();
                runs.dedup();
                m.generated_at = runs.join(", ");
                m
            }
        });
    }
    let mut report = merged.ok_or_else(|| anyhow::anyhow!("no benchmarks.json given"))?;
    report.analysis = analysis::analysis(&report.figures);
    write(&report, out)
}

fn benches_of(figures: &[Figure]) -> Vec<String> {
    let mut benches: Vec<String> = Vec::new();
    for f in figures {
        if !benches.contains(&f.bench) {
            benches.push(f.bench.clone());
        }
    }
    benches
}

/// The note naming the run a benchmark's figures come from.
fn measured(bench: &str, at: &str, machine: &Machine) -> String {
    format!("{bench}: measured {at} on {} cores ({}); load average before {}, after {}.", machine.cores, machine.cpu, machine.load_before, machine.load_after)
}

/// When a benchmark's figures were measured, from its note.
fn measured_at<'a>(notes: &'a [String], bench: &str) -> Option<&'a str> {
    notes.iter().find_map(|n| n.strip_prefix(&format!("{bench}: measured "))?.split(" on ").next())
}

fn write(report: &Report, out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("benchmarks.json"), serde_json::to_string_pretty(report)?)?;
    std::fs::write(out.join("BENCHMARKS.md"), markdown(report))?;
    eprintln!("bench: wrote {} and benchmarks.json", out.join("BENCHMARKS.md").display());
    Ok(())
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

/// Benchmarks with a section of their own after the main table (figures of another kind: a
/// browser's, not the host's): the name, the section's title, and how to measure it again.
const SECTIONS: &[(&str, &str, &str)] = &[("dashboard", "The dashboard at scale", dashboard::REPRODUCE)];

fn table(s: &mut String, figures: &[&Figure]) {
    s.push_str("| benchmark | figure | value | runs (min - max) | reference | ratio | goal | met |\n");
    s.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for f in figures {
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
}

fn markdown(r: &Report) -> String {
    let seconds = r.seconds;
    let own_section = |bench: &str| SECTIONS.iter().any(|(b, _, _)| *b == bench);
    let note_of = |n: &str, bench: &str| n.starts_with(&format!("{bench}:"));
    let mut s = String::new();
    s.push_str("# Benchmarks\n\n");
    if r.smoke {
        s.push_str("**Smoke run: tiny sizes, to check the harness runs; the figures mean nothing.**\n\n");
    }
    let when = if r.merged {
        format!("Generated by `./scripts/bench.sh` in runs at {}; each benchmark's notes name its run, the machine and its load then.", r.generated_at)
    } else {
        format!(
            "Generated {} by `./scripts/bench.sh` in {:.0} s on {} cores ({}); load average before {}, after {}.",
            r.generated_at, seconds, r.machine.cores, r.machine.cpu, r.machine.load_before, r.machine.load_after
        )
    };
    s.push_str(&format!(
        "{when} Each figure is the median of its runs, with the smallest and largest; ratios compare with a reference measured in the \
         same run on the same machine.\n\n"
    ));
    table(&mut s, &r.figures.iter().filter(|f| !own_section(&f.bench)).collect::<Vec<_>>());
    if !r.analysis.is_empty() {
        s.push_str("\n## Goals not met, and why\n\n");
        for a in &r.analysis {
            s.push_str(&format!("{a}\n\n"));
        }
    }
    let notes: Vec<&String> = r.notes.iter().filter(|n| !SECTIONS.iter().any(|(b, _, _)| note_of(n, b))).collect();
    if !notes.is_empty() {
        s.push_str("\n## Notes\n\n");
        for n in notes {
            s.push_str(&format!("- {n}\n"));
        }
    }
    for (bench, title, reproduce) in SECTIONS {
        let figures: Vec<&Figure> = r.figures.iter().filter(|f| f.bench == *bench).collect();
        let notes: Vec<&String> = r.notes.iter().filter(|n| note_of(n, bench)).collect();
        if figures.is_empty() && notes.is_empty() {
            continue;
        }
        s.push_str(&format!("\n## {title}\n\n"));
        if !figures.is_empty() {
            table(&mut s, &figures);
            s.push('\n');
        }
        for n in notes {
            s.push_str(&format!("{n}\n\n"));
        }
        s.push_str(&format!("To measure again: {reproduce}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(figures: Vec<Figure>) -> Report {
        Report {
            generated_at: "t".into(),
            seconds: 1.0,
            smoke: false,
            merged: false,
            machine: Machine { cores: 2, load_before: String::new(), load_after: String::new(), cpu: String::new() },
            analysis: Vec::new(),
            figures,
            notes: Vec::new(),
        }
    }

    #[test]
    fn render_merges_runs_and_explains_unmet_goals() {
        let dir = tempfile::tempdir().unwrap();
        let first = report(vec![
            Figure::new("transform", "native, batch 256", "events/s/core", vec![100.0]),
            Figure::new("transform", "wasm, batch 256", "events/s/core", vec![20.0]).against("native", 100.0).goal("0.6x", false),
            Figure::new("store", "events/s, old", "events/s", vec![1.0]),
        ]);
        let second = report(vec![Figure::new("store", "events/s, new", "events/s", vec![2.0])]);
        let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
        std::fs::write(&a, serde_json::to_string(&first).unwrap()).unwrap();
        std::fs::write(&b, serde_json::to_string(&second).unwrap()).unwrap();
        render(&[a, b], dir.path()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("BENCHMARKS.md")).unwrap();
        assert!(md.contains("events/s, new") && !md.contains("events/s, old"), "{md}");
        assert!(md.contains("## Goals not met, and why") && md.contains("**Transform stage (goal not met).**"), "{md}");
        assert!(md.contains("| wasm, batch 256 | 20.00 events/s/core |"), "{md}");
    }

    #[test]
    fn rendering_a_run_again_does_not_count_it_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = report(vec![Figure::new("transform", "native, batch 256", "events/s/core", vec![100.0])]);
        first.generated_at = "first".into();
        let mut second = report(vec![Figure::new("store", "events/s", "events/s", vec![2.0])]);
        (second.generated_at, second.seconds) = ("second".into(), 5.0);
        let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
        std::fs::write(&a, serde_json::to_string(&first).unwrap()).unwrap();
        std::fs::write(&b, serde_json::to_string(&second).unwrap()).unwrap();
        render(&[a.clone(), b.clone()], dir.path()).unwrap();
        let once = std::fs::read_to_string(dir.path().join("BENCHMARKS.md")).unwrap();
        // The table's own file merged with the same run again, as after a second `--render`.
        let merged = dir.path().join("benchmarks.json");
        render(&[merged, b], dir.path()).unwrap();
        let twice = std::fs::read_to_string(dir.path().join("BENCHMARKS.md")).unwrap();
        assert_eq!(once, twice);
        assert_eq!(once.matches("measured first").count(), 1, "{once}");
        assert_eq!(once.matches("measured second").count(), 1, "{once}");
    }

    /// The header names the runs whose figures the table holds, each once: a run every figure of
    /// which a later run replaced is not named any more.
    #[test]
    fn the_header_names_only_the_runs_in_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let run = |at: &str, bench: &'static str| {
            let mut r = report(vec![Figure::new(bench, "x", "ms", vec![1.0])]);
            r.generated_at = at.into();
            let path = dir.path().join(format!("{at}.json"));
            std::fs::write(&path, serde_json::to_string(&r).unwrap()).unwrap();
            path
        };
        let (t1, s2, t3) = (run("t1", "transform"), run("s2", "store"), run("t3", "transform"));
        render(&[t1, s2.clone(), t3], dir.path()).unwrap();
        let merged = dir.path().join("benchmarks.json");
        render(&[merged.clone(), s2], dir.path()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("BENCHMARKS.md")).unwrap();
        let header = md.lines().find(|l| l.starts_with("Generated")).unwrap();
        assert!(!header.contains("t1"), "replaced by t3: {header}");
        assert_eq!((header.matches("s2").count(), header.matches("t3").count()), (1, 1), "{header}");
        assert!(!md.contains("measured t1"), "{md}");
    }

    #[test]
    fn the_dashboard_has_a_section_of_its_own() {
        let mut r = report(vec![
            Figure::new("store", "events/s", "events/s", vec![2.0]),
            Figure::new("dashboard", "time to first render with 10 active viewers", "ms", vec![900.0, 800.0, 1000.0]),
        ]);
        r.notes = vec!["store: a store note".into(), "dashboard: how the page was measured".into()];
        let md = markdown(&r);
        let (main, section) = md.split_once("## The dashboard at scale").expect("a dashboard section");
        assert!(main.contains("| store | events/s |") && !main.contains("first render") && !main.contains("how the page"), "{md}");
        assert!(main.contains("- store: a store note"), "{md}");
        assert!(section.contains("| dashboard | time to first render with 10 active viewers | 900 ms | 3 (800 - 1000) |"), "{md}");
        assert!(section.contains("dashboard: how the page was measured") && section.contains("To measure again:"), "{md}");
    }
}
