//! Child processes that die with their handle, free ports, and waiting for a condition.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The service tests are heavy on two cores: one at a time keeps their timings honest.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(())).lock().unwrap_or_else(|e| e.into_inner())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A tool that `scripts/setup.sh` installed, by the variable that holds its path. Without it
/// the test fails saying what is missing; it is never skipped.
pub fn tool(var: &str, what: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) => PathBuf::from(p),
        None => panic!("{var} is not set: {what} is needed; run the tests with scripts/test.sh (or `. scripts/setup.sh` first)"),
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Like [`wait_until`], returning whether the condition came true instead of failing.
pub fn try_wait_until(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// A child process killed (SIGKILL) on drop.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn new(child: Child, name: &str) -> Proc {
        Proc { child, name: name.to_owned() }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (None: still running after `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.wait(timeout)
    }

    /// The exit status once the process has ended by itself, within `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        rss_bytes(self.child.id())
    }

    /// CPU time used so far, user and system, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.child.id())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Resident memory of a process, in bytes (0 when it is gone).
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())))
        .flatten()
        .map_or(0, |kb| kb * 1024)
}

/// CPU time a process has used, user and system, in seconds (0 when it is gone): what a
/// benchmark divides by the events it handled, for the cost of an event apart from how much
/// of a shared machine the process got.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name, field 2, is in parentheses and may hold spaces: count from after it.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name's.
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 / per_second.max(1) as f64
}

/// Where a service's output goes: one file per start, kept after the test for a post-mortem.
pub fn log_path(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join("liveviewer-test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}-{}-{n}.log", std::process::id()))
}

pub fn log_file(name: &str) -> std::fs::File {
    std::fs::File::create(log_path(name)).unwrap()
}

/// Runs a future to completion from blocking code, on a thread and runtime of its own, so that
/// the helpers work alike from a plain test and from inside an async benchmark.
pub fn block_on<F: std::future::Future + Send>(f: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(f))
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Busy work shows in this process's CPU time (waited for, up to 20 s of wall time, since
    /// the test may share the machine); a process that is gone has none.
    #[test]
    fn cpu_seconds_counts_work_done() {
        let me = std::process::id();
        let before = cpu_seconds(me);
        let start = Instant::now();
        let mut x = 0u64;
        while cpu_seconds(me) - before < 0.1 && start.elapsed() < Duration::from_secs(20) {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        let used = cpu_seconds(me) - before;
        assert!(used >= 0.1, "busy for {:?}, yet {used} s of CPU counted", start.elapsed());
        // Seconds, not clock ticks: no more than every core busy all along (other tests run too).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        assert!(used <= (start.elapsed().as_secs_f64() + 0.05) * cores, "{used} s of CPU in {:?}", start.elapsed());
        assert_eq!(cpu_seconds(u32::MAX), 0.0);
    }
}
