//! Request ids: the caller's `X-Request-Id` is kept when it is safe to echo and log, otherwise a
//! new UUID is minted, so every response and log line can be correlated.

/// Returns the caller's id if it is 1–128 characters of `[A-Za-z0-9._-]`, else `None`.
pub fn accept(candidate: Option<&str>) -> Option<&str> {
    let id = candidate?;
    let valid = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    valid.then_some(id)
}

/// The request id to use: the caller's when acceptable, else a fresh UUID v4.
pub fn accept_or_generate(candidate: Option<&str>) -> String {
    accept(candidate)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_kept() {
        assert_eq!(accept(Some("abc-123_x.y")), Some("abc-123_x.y"));
        assert_eq!(accept(Some(&"a".repeat(128))).map(str::len), Some(128));
    }

    #[test]
    fn empty_long_or_unsafe_ids_are_replaced() {
        for bad in ["", "a b", "x\r\ny", "é", "<script>", &"a".repeat(129)] {
            assert_eq!(accept(Some(bad)), None, "{bad:?}");
        }
        let generated = accept_or_generate(Some("bad id"));
        assert_eq!(generated.len(), 36);
        assert!(accept(Some(&generated)).is_some());
    }
}
