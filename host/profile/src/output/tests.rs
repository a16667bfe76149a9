use super::checks::MAX_REASON;
use super::*;
use liveviewer_wire::v2::{Encoder, NameIds};

fn limits() -> OutputLimits {
    OutputLimits::default()
}

/// The same outcomes as v2 bytes (no name table: every name inline).
fn as_v2(json: &[u8]) -> Vec<u8> {
    let outcomes: Vec<Outcome> = serde_json::from_slice(json).unwrap();
    let ids = NameIds::new(&[]);
    let mut e = Encoder::new(&ids, outcomes.len());
    for o in &outcomes {
        e.outcome(o);
    }
    e.finish()
}

fn v2() -> Format {
    Format::V2(NameTable::default())
}

#[test]
fn counts_and_shapes_are_checked() {
    let ok = br#"[{"skip":{"reason":"x"}},{"reject":{"reason":"y"}}]"#;
    for (format, out) in [(Format::V1, ok.to_vec()), (v2(), as_v2(ok))] {
        assert_eq!(decode(&format, &out, 2, &limits()).unwrap().len(), 2);
        assert_eq!(decode(&format, &out, 3, &limits()), Err(OutputError::WrongCount { expected: 3, got: 2 }));
    }
    assert!(matches!(decode(&Format::V1, b"{}", 1, &limits()), Err(OutputError::Malformed(_))));
    assert!(matches!(decode(&Format::V1, b"[{\"maybe\":{}}]", 1, &limits()), Err(OutputError::Malformed(_))));
    assert!(matches!(decode(&v2(), b"[]", 0, &limits()), Err(OutputError::Malformed(_))), "JSON is not v2");
    assert!(matches!(decode(&v2(), &[2, 1, 9], 1, &limits()), Err(OutputError::Malformed(_))));
    let huge = format!(r#"[{{"skip":{{"reason":"{}"}}}}]"#, "x".repeat(70_000));
    assert!(matches!(decode(&Format::V1, huge.as_bytes(), 1, &limits()), Err(OutputError::TooLarge(_))));
    assert!(matches!(decode(&v2(), &as_v2(huge.as_bytes()), 1, &limits()), Err(OutputError::TooLarge(_))));
    // Under the whole output's cap, over one event's.
    let two = format!(r#"[{{"skip":{{"reason":"{}"}}}},{{"skip":{{"reason":"x"}}}}]"#, "x".repeat(70_000));
    assert!(matches!(decode(&Format::V1, two.as_bytes(), 2, &limits()), Err(OutputError::TooLarge(_))));
    assert!(matches!(decode(&v2(), &as_v2(two.as_bytes()), 2, &limits()), Err(OutputError::TooLarge(_))));
}

fn apply_with(delta: &str) -> String {
    format!(r#"[{{"apply":{{"viewer":"v","event":"e","at":{{"ts":1,"rank":1,"id":"i"}},"deltas":[{delta}]}}}}]"#)
}

#[test]
fn fields_and_values_are_checked_the_same_in_both_versions() {
    let good = apply_with(r#"{"op":"set","field":"ad.quartile","value":1}"#);
    let v1 = decode(&Format::V1, good.as_bytes(), 1, &limits()).unwrap();
    assert_eq!(decode(&v2(), &as_v2(good.as_bytes()), 1, &limits()).unwrap(), v1);
    for bad in [
        r#"{"op":"set","field":"totals","value":1}"#,
        r#"{"op":"set","field":"Media","value":1}"#,
        r#"{"op":"set","field":"a.b.c","value":1}"#,
        r#"{"op":"max","field":"session_id","value":1,"session":"s"}"#,
        r#"{"op":"add","field":"x","value":1,"dedupe":""}"#,
        r#"{"op":"state","field":"status","value":""}"#,
        r#"{"op":"set","field":"x","value":1,"session":""}"#,
    ] {
        let out = apply_with(bad);
        let v1 = decode(&Format::V1, out.as_bytes(), 1, &limits());
        assert!(matches!(v1, Err(OutputError::Malformed(_))), "{bad}");
        assert_eq!(decode(&v2(), &as_v2(out.as_bytes()), 1, &limits()), v1, "{bad}: the same check, the same words");
    }
    // Numbers JSON cannot carry are refused by v2's decoder, which v1's JSON cannot express.
    let mut out = as_v2(apply_with(r#"{"op":"max","field":"x","value":1}"#).as_bytes());
    let at = out.len() - 8;
    out[at..].copy_from_slice(&f64::INFINITY.to_le_bytes());
    let err = decode(&v2(), &out, 1, &limits()).unwrap_err();
    assert_eq!(err, OutputError::Malformed("result 0: x: inf is not a finite number".into()));
    let deltas: Vec<String> = (0..257).map(|i| format!(r#"{{"op":"max","field":"f{i}","value":1}}"#)).collect();
    let many = apply_with(&deltas.join(","));
    let v1 = decode(&Format::V1, many.as_bytes(), 1, &limits());
    assert_eq!(v1, Err(OutputError::Malformed("result 0: 257 deltas (cap 256)".into())));
    assert_eq!(decode(&v2(), &as_v2(many.as_bytes()), 1, &limits()), v1);
}

#[test]
fn long_reasons_are_cut() {
    let mut o = Outcome::Reject { reason: "é".repeat(2000) };
    validate_outcome(&mut o, &limits()).unwrap();
    let Outcome::Reject { reason } = o else { unreachable!() };
    assert!(reason.len() <= MAX_REASON + 3);
}
