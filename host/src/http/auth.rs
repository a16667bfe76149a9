//! Bearer tokens, compared in constant time so that response timing says nothing about them.

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

/// Whether the request carries `Authorization: Bearer <expected>`.
pub fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(token) = value.strip_prefix("Bearer ") else { return false };
    // Equal lengths first (the length of a token is not a secret worth hiding), then bytes.
    token.len() == expected.len() && bool::from(token.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let t = "0123456789abcdef";
        assert!(bearer_matches(&headers("Bearer 0123456789abcdef"), t));
        assert!(!bearer_matches(&headers("Bearer 0123456789abcdeX"), t));
        assert!(!bearer_matches(&headers("Bearer 0123456789abcde"), t));
        assert!(!bearer_matches(&headers("Basic 0123456789abcdef"), t));
        assert!(!bearer_matches(&HeaderMap::new(), t));
    }
}
