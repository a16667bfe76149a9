//! "Does this JSON hold what the vector expects?" An expected object names only the keys it
//! cares about; an expected array lists elements that must each match a distinct actual one;
//! numbers compare as numbers (6 equals 6.0). Every mismatch is reported with its path.

use serde_json::Value;

/// Collects a line per mismatch of `expected` within `actual`, prefixed with `path`.
pub fn subset(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => subset(&p, ev, av, out),
                    None => out.push(format!("{p}: expected {}, missing", short(ev))),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            let mut used = vec![false; a.len()];
            for (i, ev) in e.iter().enumerate() {
                let found = a.iter().enumerate().find(|(j, av)| {
                    if used[*j] {
                        return false;
                    }
                    let mut scratch = Vec::new();
                    subset("", ev, av, &mut scratch);
                    scratch.is_empty()
                });
                match found {
                    Some((j, _)) => used[j] = true,
                    None => out.push(format!("{path}[{i}]: expected an element like {}, none found", short(ev))),
                }
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (e.as_f64().unwrap_or(f64::NAN), a.as_f64().unwrap_or(f64::NAN));
            if (e - a).abs() > 1e-9 * e.abs().max(1.0) {
                out.push(format!("{path}: expected {e}, got {a}"));
            }
        }
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{path}: expected {}, got {}", short(e), short(a))),
    }
}

/// Every difference between two values, both ways (for "same profile in any order").
pub fn diff(path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for (k, lv) in l {
                let p = format!("{path}.{k}");
                match r.get(k) {
                    Some(rv) => diff(&p, lv, rv, out),
                    None => out.push(format!("{p}: {} vs missing", short(lv))),
                }
            }
            for (k, rv) in r {
                if !l.contains_key(k) {
                    out.push(format!("{path}.{k}: missing vs {}", short(rv)));
                }
            }
        }
        (l, r) if l == r => {}
        (l, r) => out.push(format!("{path}: {} vs {}", short(l), short(r))),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        let mut cut = 117;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &s[..cut])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(e: Value, a: Value) -> Vec<String> {
        let mut out = Vec::new();
        subset("$", &e, &a, &mut out);
        out
    }

    #[test]
    fn objects_are_partial_numbers_numeric() {
        assert!(check(json!({"a": 6}), json!({"a": 6.0, "b": 1})).is_empty());
        assert_eq!(check(json!({"a": 1}), json!({"a": 2})), ["$.a: expected 1, got 2"]);
        assert_eq!(check(json!({"c": null}), json!({})), ["$.c: expected null, missing"]);
        assert_eq!(check(json!({"a": null}), json!({"a": 0})), ["$.a: expected null, got 0"]);
    }

    #[test]
    fn arrays_are_containment() {
        assert!(check(json!([{"op": "max"}]), json!([{"op": "set"}, {"op": "max", "v": 1}])).is_empty());
        assert_eq!(check(json!([1, 1]), json!([1, 2])).len(), 1);
    }

    #[test]
    fn diff_is_symmetric() {
        let mut out = Vec::new();
        diff("$", &json!({"a": 1, "b": 2}), &json!({"a": 1, "c": 3}), &mut out);
        assert_eq!(out, ["$.b: 2 vs missing", "$.c: missing vs 3"]);
    }
}
