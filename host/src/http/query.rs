//! Query strings of the read endpoints: `key=value` pairs, parsed by hand into what each
//! endpoint takes, a known key at a time (an unknown key is a 400 naming it).

use super::api::percent_decode;

/// The pairs of a raw query, decoded; an error for a key not in `known`.
pub fn pairs<'a>(raw: Option<&'a str>, known: &[&str]) -> Result<Vec<(&'a str, String)>, String> {
    let mut out = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if !known.contains(&k) {
            return Err(format!("unknown query parameter {k:?}"));
        }
        out.push((k, percent_decode(v)));
    }
    Ok(out)
}

/// A count parameter, clamped to `[min, max]`.
pub fn number(name: &str, v: &str, min: usize, max: usize) -> Result<usize, String> {
    let n: usize = v.parse().map_err(|_| format!("{name} {v:?} is not a number"))?;
    Ok(n.clamp(min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_and_unknown_keys_refused() {
        assert_eq!(pairs(Some("a=1&b=x%20y"), &["a", "b"]).unwrap(), [("a", "1".to_string()), ("b", "x y".to_string())]);
        assert!(pairs(Some("c=1"), &["a"]).is_err());
        assert_eq!(number("limit", "5000", 1, 100).unwrap(), 100);
        assert!(number("limit", "-1", 1, 100).is_err());
    }
}
