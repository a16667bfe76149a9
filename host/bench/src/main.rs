//! `liveviewer-bench`: runs the benchmarks and writes BENCHMARKS.md and benchmarks.json (see
//! scripts/bench.sh), or renders them again from earlier runs' figures.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "liveviewer-bench", version, about)]
struct Args {
    /// Tiny sizes: checks that every benchmark runs.
    #[arg(long)]
    smoke: bool,
    /// Where to write the results.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Only these benchmarks: transform, pipeline, latency, store, swap, memory, dashboard.
    #[arg(long)]
    only: Vec<String>,
    /// Measure nothing: write BENCHMARKS.md again from these benchmarks.json files (a later
    /// file's benchmarks replace the earlier ones').
    #[arg(long, num_args = 1.., conflicts_with_all = ["smoke", "only"])]
    render: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if !args.render.is_empty() {
        liveviewer_bench::render(&args.render, &args.out).map(|()| true)
    } else {
        tokio::runtime::Runtime::new().map_err(anyhow::Error::from).and_then(|rt| {
            rt.block_on(liveviewer_bench::run(liveviewer_bench::Options { smoke: args.smoke, out: args.out, only: args.only }))
        })
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
