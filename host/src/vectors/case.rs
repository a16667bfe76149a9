//! The test-vector format (see test-vectors/README.md) and loading it from a directory or from
//! the copy embedded in the binary.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The files of a vector directory, by path relative to it.
pub struct VectorSet {
    pub origin: String,
    files: BTreeMap<String, Vec<u8>>,
}

impl VectorSet {
    /// The vectors this binary was built with.
    pub fn embedded() -> Self {
        let files = super::VECTOR_FILES.iter().map(|(p, c)| (p.to_string(), c.as_bytes().to_vec())).collect();
        VectorSet { origin: "embedded in this binary".into(), files }
    }

    pub fn from_dir(dir: &Path) -> Result<Self, String> {
        let mut files = BTreeMap::new();
        read_dir(dir, dir, &mut files)?;
        if files.is_empty() {
            return Err(format!("{}: no test vectors found", dir.display()));
        }
        Ok(VectorSet { origin: dir.display().to_string(), files })
    }

    /// Every case under `cases/`, in file-name order.
    pub fn cases(&self) -> Result<Vec<Case>, String> {
        self.files
            .iter()
            .filter(|(p, _)| p.starts_with("cases/") && p.ends_with(".json"))
            .map(|(p, bytes)| Case::parse(p, bytes, self))
            .collect()
    }

    fn file(&self, path: &str) -> Result<&[u8], String> {
        self.files.get(path).map(Vec::as_slice).ok_or_else(|| format!("no file {path:?} in the vectors"))
    }
}

fn read_dir(base: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            read_dir(base, &path, files)?;
        } else {
            let rel = path.strip_prefix(base).expect("under base").to_string_lossy().replace('\\', "/");
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            files.insert(rel, bytes);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Last event first.
    Reverse,
    /// Three seeded shuffles.
    Shuffle,
    /// Every event twice (the repeats in reverse order, after the originals).
    Duplicate,
}

/// What one event's outcome must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expected {
    /// The apply, as a subset of its JSON (deltas: each listed one must be present).
    Apply(Value),
    /// A skip whose reason contains this text.
    Skip(String),
    /// A reject whose reason contains this text.
    Reject(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    description: String,
    events: Vec<EventSpec>,
    #[serde(default)]
    outcomes: Option<Vec<Expected>>,
    #[serde(default)]
    profiles: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    orders: Vec<Order>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EventSpec {
    /// The message exactly as Kafka delivers it.
    Raw(String),
    /// A Snowbridge JSON event, written as an object for readability.
    Json { json: Value },
    /// Bytes that are not UTF-8.
    Base64 { base64: String },
    /// Lines of a file in the vectors, 1-based: `"4-20"`, `"7"`, or all when left out.
    Lines {
        file: String,
        #[serde(default)]
        lines: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub description: String,
    pub messages: Vec<Vec<u8>>,
    pub outcomes: Option<Vec<Expected>>,
    pub profiles: Option<BTreeMap<String, Value>>,
    pub orders: Vec<Order>,
    pub source: Option<String>,
}

impl Case {
    fn parse(path: &str, bytes: &[u8], set: &VectorSet) -> Result<Case, String> {
        let file: CaseFile = serde_json::from_slice(bytes).map_err(|e| format!("{path}: {e}"))?;
        let name = path.trim_start_matches("cases/").trim_end_matches(".json").to_owned();
        let mut messages = Vec::new();
        for spec in file.events {
            match spec {
                EventSpec::Raw(s) => messages.push(s.into_bytes()),
                EventSpec::Json { json } => messages.push(json.to_string().into_bytes()),
                EventSpec::Base64 { base64 } => messages.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(base64)
                        .map_err(|e| format!("{path}: base64: {e}"))?,
                ),
                EventSpec::Lines { file: f, lines } => {
                    let text = set.file(&f).map_err(|e| format!("{path}: {e}"))?;
                    let all: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
                    let (from, to) = parse_range(lines.as_deref(), all.len()).map_err(|e| format!("{path}: {e}"))?;
                    messages.extend(all[from - 1..to].iter().map(|l| l.to_vec()));
                }
            }
        }
        if let Some(outcomes) = &file.outcomes {
            if outcomes.len() != messages.len() {
                return Err(format!("{path}: {} outcomes for {} events", outcomes.len(), messages.len()));
            }
        }
        if file.outcomes.is_none() && file.profiles.is_none() {
            return Err(format!("{path}: expects neither outcomes nor profiles"));
        }
        Ok(Case {
            name,
            description: file.description,
            messages,
            outcomes: file.outcomes,
            profiles: file.profiles,
            orders: file.orders,
            source: file.source,
        })
    }
}

fn parse_range(spec: Option<&str>, len: usize) -> Result<(usize, usize), String> {
    let (from, to) = match spec {
        None => (1, len),
        Some(s) => match s.split_once('-') {
            Some((a, b)) => (a.trim().parse().map_err(|_| format!("bad range {s:?}"))?, b.trim().parse().map_err(|_| format!("bad range {s:?}"))?),
            None => {
                let n = s.trim().parse().map_err(|_| format!("bad line {s:?}"))?;
                (n, n)
            }
        },
    };
    if from == 0 || from > to || to > len {
        return Err(format!("lines {from}-{to} outside 1-{len}"));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 5), Ok((1, 5)));
        assert_eq!(parse_range(Some("2-4"), 5), Ok((2, 4)));
        assert_eq!(parse_range(Some("3"), 5), Ok((3, 3)));
        assert!(parse_range(Some("0-2"), 5).is_err());
        assert!(parse_range(Some("4-9"), 5).is_err());
    }

    #[test]
    fn the_embedded_vectors_load() {
        let cases = VectorSet::embedded().cases().unwrap();
        assert!(cases.len() >= 40, "{} cases", cases.len());
    }
}
