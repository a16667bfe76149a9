use super::*;
use crate::outcome::Apply;
use crate::{Delta, OrderKey, Outcome};
use serde_json::json;

const NAMES: &[&str] = &["status", "media", "play_event", "WATCHING_VIDEO", "label", "ads"];

fn table() -> NameTable {
    NameTable::new(NAMES.iter().map(|s| s.to_string()).collect()).unwrap()
}

fn encode(outcomes: &[Outcome]) -> Vec<u8> {
    let ids = NameIds::new(NAMES);
    let mut e = Encoder::new(&ids, outcomes.len());
    for o in outcomes {
        e.outcome(o);
    }
    e.finish()
}

fn apply(deltas: Vec<Delta>) -> Outcome {
    Outcome::Apply(Apply { viewer: "v".into(), event: "play_event".into(), at: OrderKey { ts: 5, rank: 30, id: "e".into() }, deltas })
}

#[test]
fn the_layout_byte_by_byte() {
    // The example docs/abi.md walks through.
    let out = encode(&[
        apply(vec![
            Delta::State { field: "status".into(), value: "WATCHING_VIDEO".into() },
            Delta::Max { field: "ads".into(), value: 2.0, session: Some("s1".into()) },
        ]),
        Outcome::Skip { reason: "page_view".into() },
    ]);
    #[rustfmt::skip]
    let expected: Vec<u8> = vec![
        0x02, 2,                          // format, 2 outcomes
        0, 1, b'v',                       // apply, viewer "v"
        3,                                // event: name 3 ("play_event")
        10, 30, 1, b'e',                  // ts 5 (zigzag 10), rank 30, id "e"
        1, 2, b's', b'1',                 // the event's session "s1"
        2,                                // 2 deltas
        0x00, 1, 4,                       // state, profile; field 1 ("status"); value name 4
        0x12, 6, 0, 0, 0, 0, 0, 0, 0, 0x40, // max, event session; field 6 ("ads"); 2.0
        1, 9, b'p', b'a', b'g', b'e', b'_', b'v', b'i', b'e', b'w', // skip, "page_view"
    ];
    assert_eq!(out, expected);
    assert_eq!(decode(&out, &table(), 2, 65536).unwrap().len(), 2);
}

#[test]
fn every_outcome_round_trips() {
    let outcomes = vec![
        apply(vec![
            Delta::State { field: "status".into(), value: "NOT_IN_TABLE".into() },
            Delta::Set {
                field: "media".into(),
                value: json!({"label": "Big Buck Bunny", "duration": 596.47, "volume": 80, "muted": false,
                              "quality": null, "nested": {"list": [1, -2, 1.5, "x", true, null, u64::MAX]}}),
                session: None,
            },
            Delta::Set { field: "label".into(), value: json!("x"), session: Some("s1".into()) },
            Delta::Max { field: "ads".into(), value: 3.0, session: Some("s1".into()) },
            Delta::Max { field: "ads".into(), value: 1.0, session: Some("other".into()) },
            Delta::Add { field: "seeks".into(), value: 1.0, dedupe: "e".into(), session: Some("s1".into()) },
            Delta::Add { field: "plain".into(), value: -0.5, dedupe: "d".into(), session: None },
            Delta::Set { field: "ad".into(), value: serde_json::Value::Null, session: None },
        ]),
        Outcome::Skip { reason: "not a media event (page_view)".into() },
        Outcome::Reject { reason: "é".repeat(20) },
        apply(vec![]),
    ];
    let out = encode(&outcomes);
    assert_eq!(decode(&out, &table(), outcomes.len(), 65536).unwrap(), outcomes);
    // Integers and floats stay apart, as in JSON.
    let Outcome::Apply(a) = &decode(&out, &table(), outcomes.len(), 65536).unwrap()[0] else { unreachable!() };
    let Delta::Set { value, .. } = &a.deltas[1] else { unreachable!() };
    assert_eq!(value.to_string(), json!({"label": "Big Buck Bunny", "duration": 596.47, "volume": 80, "muted": false,
        "quality": null, "nested": {"list": [1, -2, 1.5, "x", true, null, u64::MAX]}}).to_string());
    assert!(value["volume"].is_i64() && value["duration"].is_f64());
}

#[test]
fn a_repeated_member_is_the_last_one_as_in_json() {
    // An object of three members, "x" twice: {"x": 1, "y": 2, "x": 3}.
    let out = [2, 1, 0, 1, b'v', 3, 10, 30, 1, b'e', 0, 1, 0x01, 2, 8, 3, 0, 1, b'x', 3, 2, 0, 1, b'y', 3, 4, 0, 1, b'x', 3, 6];
    let Outcome::Apply(a) = &decode(&out, &table(), 1, 65536).unwrap()[0] else { panic!() };
    let Delta::Set { value, .. } = &a.deltas[0] else { panic!() };
    assert_eq!(value, &serde_json::from_str::<serde_json::Value>(r#"{"x": 1, "y": 2, "x": 3}"#).unwrap());
    assert_eq!(value, &json!({"x": 3, "y": 2}));
}

#[test]
fn counts_are_checked() {
    let out = encode(&[Outcome::Skip { reason: "x".into() }]);
    assert_eq!(decode(&out, &table(), 2, 65536), Err(DecodeError::WrongCount { expected: 2, got: 1 }));
    assert!(matches!(decode(b"[]", &table(), 0, 65536), Err(DecodeError::Malformed { at: 0, what: Malformed::NotV2(b'[') })));
    assert!(matches!(decode(&[], &table(), 0, 65536), Err(DecodeError::Malformed { what: Malformed::Truncated, .. })));
    let mut trailing = out.clone();
    trailing.push(0);
    assert!(matches!(decode(&trailing, &table(), 1, 65536), Err(DecodeError::Malformed { what: Malformed::Trailing(1), .. })));
}

#[test]
fn malformed_outputs_say_where_and_what() {
    let bad = |bytes: &[u8]| match decode(bytes, &table(), 1, 65536) {
        Err(DecodeError::Malformed { what, .. }) => what,
        other => panic!("{bytes:?}: {other:?}"),
    };
    // format, 1 outcome, then:
    assert_eq!(bad(&[2, 1, 9]), Malformed::UnknownOutcome(9));
    assert_eq!(bad(&[2, 1, 1, 5, b'a']), Malformed::Truncated);
    assert_eq!(bad(&[2, 1, 1, 1, 0xff]), Malformed::NotUtf8);
    let head = [2u8, 1, 0, 1, b'v', 3, 10, 30, 1, b'e'];
    let with = |rest: &[u8]| [head.as_slice(), rest].concat();
    assert_eq!(bad(&with(&[7])), Malformed::SessionFlag(7));
    assert_eq!(bad(&with(&[0, 1, 0x04, 1, 0])), Malformed::UnknownOp(4));
    assert_eq!(bad(&with(&[0, 1, 0x31, 1, 0])), Malformed::UnknownScope(3));
    assert_eq!(bad(&with(&[0, 1, 0x11, 1, 0])), Malformed::NoEventSession);
    assert_eq!(bad(&with(&[1, 1, b's', 1, 0x10, 1, 4])), Malformed::StateInSession);
    assert_eq!(bad(&with(&[0, 1, 0x01, 99, 0])), Malformed::NoSuchName(99));
    assert_eq!(bad(&with(&[0, 1, 0x01, 1, 42])), Malformed::UnknownValue(42));
    let nan = f64::NAN.to_le_bytes();
    assert_eq!(bad(&with(&[&[0, 1, 0x01, 1, 5][..], &nan].concat())), Malformed::NotFinite);
    // A count that the bytes left cannot hold is refused before anything is allocated.
    assert_eq!(bad(&with(&[0, 0xff, 0xff, 0xff, 0xff, 0x0f])), Malformed::Truncated);
    assert_eq!(bad(&with(&[0, 1, 0x01, 1, 7, 0xff, 0xff, 0x03])), Malformed::Truncated);
    // Arrays nested past the limit.
    let mut deep = with(&[0, 1, 0x01, 1]);
    deep.extend(std::iter::repeat_n([7u8, 1], MAX_DEPTH).flatten());
    deep.push(0);
    assert_eq!(bad(&deep), Malformed::TooDeep);
}

#[test]
fn a_result_is_capped_as_encoded_and_as_spelled_out() {
    let big = Outcome::Reject { reason: "x".repeat(2000) };
    assert_eq!(decode(&encode(&[big]), &table(), 1, 1024), Err(DecodeError::TooLarge { event: 0, cap: 1024 }));
    // 200 one-byte references to a 14-byte name are 2800 bytes spelled out.
    let many: Vec<Delta> = (0..200).map(|_| Delta::State { field: "status".into(), value: "WATCHING_VIDEO".into() }).collect();
    let out = encode(&[apply(many)]);
    assert!(out.len() < 1024);
    assert_eq!(decode(&out, &table(), 1, 1024), Err(DecodeError::TooLarge { event: 0, cap: 1024 }));
    // The session counts once per delta scoped to it.
    let session: crate::SessionId = "s".repeat(200).into();
    let scoped: Vec<Delta> = (0..10).map(|_| Delta::Max { field: "ads".into(), value: 1.0, session: Some(session.clone()) }).collect();
    let out = encode(&[apply(scoped)]);
    assert!(out.len() < 1024);
    assert_eq!(decode(&out, &table(), 1, 1024), Err(DecodeError::TooLarge { event: 0, cap: 1024 }));
}
