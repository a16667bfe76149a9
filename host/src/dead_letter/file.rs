//! Dead letters as JSON lines in the data directory, fsynced before a batch counts as durable,
//! in a bounded set of files: past `max_file_bytes` the current file becomes
//! `dead-letters.1.jsonl` (older ones shift up to `keep_files`, the oldest beyond is deleted)
//! and a new one begins. A flood of bad events thus costs at most
//! `(keep_files + 1) * max_file_bytes` of disk, never the disk.

use crate::config::DeadLetterConfig;
use crate::metrics::Metrics;
use crate::store::StoreError;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const STEM: &str = "dead-letters";

pub struct FileSink {
    dir: PathBuf,
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    max_letter: usize,
    metrics: Arc<Metrics>,
    current: Mutex<Current>,
}

struct Current {
    file: File,
    len: u64,
}

fn io(what: &Path, e: std::io::Error) -> StoreError {
    StoreError::Transient(format!("dead-letter file {}: {e}", what.display()))
}

impl FileSink {
    pub fn open(data_dir: &Path, limits: &DeadLetterConfig, metrics: Arc<Metrics>) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Fatal(format!("{}: {e}", data_dir.display())))?;
        let path = data_dir.join(format!("{STEM}.jsonl"));
        let file = append_to(&path).map_err(|e| StoreError::Fatal(format!("{}: {e}", path.display())))?;
        let len = file.metadata().map_err(|e| StoreError::Fatal(format!("{}: {e}", path.display())))?.len();
        Ok(FileSink {
            dir: data_dir.to_path_buf(),
            path,
            max_bytes: limits.max_file_bytes,
            keep: limits.keep_files,
            max_letter: limits.max_letter_bytes,
            metrics,
            current: Mutex::new(Current { file, len }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size a letter is cut to before it is written here.
    pub fn max_letter_bytes(&self) -> usize {
        self.max_letter
    }

    fn rotated(&self, n: u32) -> PathBuf {
        self.dir.join(format!("{STEM}.{n}.jsonl"))
    }

    /// Appends the lines (each one JSON letter, no newline) and syncs; durable when Ok.
    pub fn append(&self, lines: &[Vec<u8>]) -> Result<(), StoreError> {
        let mut current = self.current.lock().expect("dead-letter file lock");
        let mut pending: Vec<u8> = Vec::new();
        for line in lines {
            let size = line.len() as u64 + 1;
            let used = current.len + pending.len() as u64;
            if used > 0 && used + size > self.max_bytes {
                self.write(&mut current, &pending)?;
                pending.clear();
                self.rotate(&mut current)?;
            }
            pending.extend_from_slice(line);
            pending.push(b'\n');
        }
        self.write(&mut current, &pending)
    }

    fn write(&self, current: &mut Current, bytes: &[u8]) -> Result<(), StoreError> {
        if bytes.is_empty() {
            return Ok(());
        }
        current.file.write_all(bytes).and_then(|()| current.file.sync_data()).map_err(|e| io(&self.path, e))?;
        current.len += bytes.len() as u64;
        Ok(())
    }

    /// The current file becomes `.1`, `.1` becomes `.2`, and so on; the one past `keep` goes.
    fn rotate(&self, current: &mut Current) -> Result<(), StoreError> {
        let oldest = if self.keep == 0 { self.path.clone() } else { self.rotated(self.keep) };
        if let Ok(meta) = std::fs::metadata(&oldest) {
            tracing::warn!(file = %oldest.display(), bytes = meta.len(), "dead-letter files are full: the oldest is deleted");
            self.metrics.inc("liveviewer_dead_letter_bytes_discarded_total", &[], meta.len());
            std::fs::remove_file(&oldest).map_err(|e| io(&oldest, e))?;
        }
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                std::fs::rename(&from, self.rotated(n + 1)).map_err(|e| io(&from, e))?;
            }
        }
        if self.keep > 0 {
            std::fs::rename(&self.path, self.rotated(1)).map_err(|e| io(&self.path, e))?;
        }
        *current = Current { file: append_to(&self.path).map_err(|e| io(&self.path, e))?, len: 0 };
        // The renames are durable only once the directory is.
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| io(&self.dir, e))?;
        self.metrics.inc("liveviewer_dead_letter_files_rotated_total", &[], 1);
        tracing::debug!(file = %self.path.display(), "dead-letter file rotated");
        Ok(())
    }
}

fn append_to(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(dir: &Path, max: u64, keep: u32) -> FileSink {
        let limits = DeadLetterConfig { max_file_bytes: max, keep_files: keep, max_letter_bytes: 4096 };
        FileSink::open(dir, &limits, Arc::new(Metrics::default())).unwrap()
    }

    fn lines(n: usize, width: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("{i:0width$}").into_bytes()).collect()
    }

    fn read(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    #[test]
    fn files_stay_under_the_bound_and_the_newest_lines_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = sink(dir.path(), 100, 2);
        // 40 lines of 10 bytes: 4 files' worth, in batches of 7.
        for batch in lines(40, 9).chunks(7) {
            s.append(batch).unwrap();
        }
        let current = read(&dir.path().join("dead-letters.jsonl"));
        let one = read(&dir.path().join("dead-letters.1.jsonl"));
        let two = read(&dir.path().join("dead-letters.2.jsonl"));
        assert!(!dir.path().join("dead-letters.3.jsonl").exists());
        for f in ["dead-letters.jsonl", "dead-letters.1.jsonl", "dead-letters.2.jsonl"] {
            assert!(std::fs::metadata(dir.path().join(f)).unwrap().len() <= 100, "{f}");
        }
        let kept: Vec<String> = two.into_iter().chain(one).chain(current).collect();
        let expected: Vec<String> = (10..40).map(|i| format!("{i:09}")).collect();
        assert_eq!(kept, expected, "the newest 30 lines, in order");
        assert_eq!(s.metrics.total("liveviewer_dead_letter_files_rotated_total"), 3);
        assert_eq!(s.metrics.total("liveviewer_dead_letter_bytes_discarded_total"), 100);
    }

    #[test]
    fn a_reopened_file_counts_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        sink(dir.path(), 100, 1).append(&lines(9, 9)).unwrap();
        let s = sink(dir.path(), 100, 1);
        s.append(&lines(2, 9)).unwrap();
        assert_eq!(read(&dir.path().join("dead-letters.1.jsonl")).len(), 10);
        assert_eq!(read(&dir.path().join("dead-letters.jsonl")).len(), 1);
    }
}
