//! The stored form of a profile: a format byte, the revision (a postcard varint), then the
//! body (postcard). Postcard is positional, so a change of layout is a new format, and every
//! format ever written still decodes: the earlier layouts are mirrored here and converted.

use super::counter::SumCell;
use super::key::Key;
use super::state::{Cells, ProfileState, Register, Retired, SessionRecord, StateWindow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Before profiles had a revision.
const FORMAT_WITHOUT_REVISION: u8 = 1;
/// Before counters placed their dedupe keys by event time (a counter kept hashes only).
const FORMAT_COUNTERS_BY_ARRIVAL: u8 = 2;
const FORMAT: u8 = 3;

impl ProfileState {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT];
        out.extend(postcard::to_stdvec(&self.revision).expect("a number always encodes"));
        out.extend(postcard::to_stdvec(self).expect("profile state always encodes"));
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let body = |b: &[u8]| -> Result<(u64, Vec<u8>), String> {
            let (revision, body) = postcard::take_from_bytes::<u64>(b).map_err(|e| format!("profile state revision: {e}"))?;
            Ok((revision, body.to_vec()))
        };
        let err = |e: postcard::Error| format!("profile state: {e}");
        let (state, revision) = match bytes.split_first() {
            Some((&FORMAT, rest)) => {
                let (revision, b) = body(rest)?;
                (postcard::from_bytes::<ProfileState>(&b).map_err(err)?, revision)
            }
            Some((&FORMAT_COUNTERS_BY_ARRIVAL, rest)) => {
                let (revision, b) = body(rest)?;
                (postcard::from_bytes::<V2>(&b).map_err(err)?.into(), revision)
            }
            Some((&FORMAT_WITHOUT_REVISION, rest)) => (postcard::from_bytes::<V2>(rest).map_err(err)?.into(), 0),
            Some((other, _)) => return Err(format!("profile state: unknown format {other}")),
            None => return Err("profile state: empty".into()),
        };
        Ok(ProfileState { revision, ..state })
    }
}

/// The layout of formats 1 and 2: the same as today's but for the counters.
#[derive(Serialize, Deserialize)]
struct V2 {
    viewer_id: String,
    first_seen: Option<i64>,
    last_seen: Option<i64>,
    states: BTreeMap<String, StateWindow>,
    cells: CellsV2,
    sessions: BTreeMap<String, SessionV2>,
    retired: Retired,
    module_version: String,
    watermarks: BTreeMap<String, i64>,
}

#[derive(Serialize, Deserialize)]
struct CellsV2 {
    fields: BTreeMap<String, Register>,
    maxes: BTreeMap<String, f64>,
    sums: BTreeMap<String, SumV2>,
}

#[derive(Serialize, Deserialize)]
struct SessionV2 {
    first: Key,
    last: Key,
    cells: CellsV2,
}

#[derive(Serialize, Deserialize)]
struct SumV2 {
    total: f64,
    seen: Vec<u64>,
}

impl From<CellsV2> for Cells {
    fn from(c: CellsV2) -> Self {
        Cells {
            fields: c.fields,
            maxes: c.maxes,
            sums: c.sums.into_iter().map(|(k, s)| (k, SumCell::from_legacy(s.total, s.seen))).collect(),
        }
    }
}

impl From<V2> for ProfileState {
    fn from(v: V2) -> Self {
        ProfileState {
            viewer_id: v.viewer_id,
            first_seen: v.first_seen,
            last_seen: v.last_seen,
            states: v.states,
            cells: v.cells.into(),
            sessions: v
                .sessions
                .into_iter()
                .map(|(id, s)| (id, SessionRecord { first: s.first, last: s.last, cells: s.cells.into() }))
                .collect(),
            retired: v.retired,
            module_version: v.module_version,
            watermarks: v.watermarks,
            watermark_times: BTreeMap::new(),
            revision: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::fnv1a;
    use crate::state::Bounds;
    use liveviewer_wire::outcome::Apply;
    use liveviewer_wire::{Delta, OrderKey};
    use serde_json::json;

    fn apply(ts: i64, id: &str, deltas: Vec<Delta>) -> Apply {
        Apply { viewer: "v".into(), event: "e".into(), at: OrderKey { ts, rank: 30, id: id.into() }, deltas }
    }

    fn sample() -> ProfileState {
        let mut s = ProfileState::new("v");
        let add = |k: &str| Delta::Add { field: "ads_completed".into(), value: 1.0, dedupe: k.into(), session: Some("s".into()) };
        let set = Delta::Set { field: "x".into(), value: json!({"a": [1, 2]}), session: None };
        s.apply(&apply(1, "a", vec![set, add("a")]), &Bounds::default());
        s.apply(&apply(2, "b", vec![add("b")]), &Bounds::default());
        s.record_position(&crate::state::Position { source: "t/0".into(), offset: 5, timestamp: None });
        s
    }

    /// `state` as a store held it in format 1 or 2.
    fn legacy(state: &ProfileState, format: u8) -> Vec<u8> {
        let cells = |c: &Cells| CellsV2 {
            fields: c.fields.clone(),
            maxes: c.maxes.clone(),
            sums: c.sums.iter().map(|(k, s)| (k.clone(), SumV2 { total: s.total, seen: s.kept.iter().map(|k| k.key).collect() })).collect(),
        };
        let v2 = V2 {
            viewer_id: state.viewer_id.clone(),
            first_seen: state.first_seen,
            last_seen: state.last_seen,
            states: state.states.clone(),
            cells: cells(&state.cells),
            sessions: state.sessions.iter().map(|(id, s)| (id.clone(), SessionV2 { first: s.first, last: s.last, cells: cells(&s.cells) })).collect(),
            retired: state.retired.clone(),
            module_version: state.module_version.clone(),
            watermarks: state.watermarks.clone(),
        };
        let mut out = vec![format];
        if format == FORMAT_COUNTERS_BY_ARRIVAL {
            out.extend(postcard::to_stdvec(&state.revision).unwrap());
        }
        out.extend(postcard::to_stdvec(&v2).unwrap());
        out
    }

    #[test]
    fn the_current_format_round_trips() {
        let s = sample();
        assert_eq!(ProfileState::decode(&s.encode()).unwrap(), s);
        assert_eq!(ProfileState::decode(&s.encode()).unwrap().revision, 2);
        assert!(ProfileState::decode(&[9, 1, 2]).is_err());
        assert!(ProfileState::decode(&[]).is_err());
    }

    #[test]
    fn profiles_stored_in_earlier_formats_still_decode_and_keep_their_counts() {
        let s = sample();
        for (format, revision) in [(FORMAT_COUNTERS_BY_ARRIVAL, 2), (FORMAT_WITHOUT_REVISION, 0)] {
            let mut old = ProfileState::decode(&legacy(&s, format)).unwrap();
            assert_eq!(old.revision, revision, "format {format}");
            assert_eq!(old.watermarks, s.watermarks);
            assert_eq!(old.cells.fields, s.cells.fields);
            assert_eq!(old.sessions["s"].cells.sums["ads_completed"].total, 2.0);
            // A repeat of a key counted before the upgrade still counts once; a new key counts.
            let add = |k: &str| Delta::Add { field: "ads_completed".into(), value: 1.0, dedupe: k.into(), session: Some("s".into()) };
            old.apply(&apply(3, "c", vec![add("a"), add("c")]), &Bounds::default());
            let sum = &old.sessions["s"].cells.sums["ads_completed"];
            assert_eq!(sum.total, 3.0, "format {format}");
            assert!(sum.kept.iter().any(|k| k.key == fnv1a(b"a")));
        }
    }
}
