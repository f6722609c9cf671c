//! Bearer-token checks, compared in constant time so response timing leaks nothing about the
//! token.

use super::reply::ApiError;

/// Checks `Authorization: Bearer <token>` against `expected`.
pub fn require_bearer(authorization: Option<&str>, expected: &str) -> Result<(), ApiError> {
    let given = authorization
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Ok(());
    }
    let mut error = ApiError::new(
        401,
        "Unauthorized",
        "this endpoint needs Authorization: Bearer <token>",
    );
    error
        .headers
        .push(("WWW-Authenticate", "Bearer realm=\"vigil\"".to_string()));
    Err(error)
}

/// Equality whose running time depends only on the length of `expected`.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ e);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_passes() {
        assert!(require_bearer(Some("Bearer s3cret"), "s3cret").is_ok());
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("Basic s3cret"),
            Some("s3cret"),
        ] {
            let err = require_bearer(bad, "s3cret").unwrap_err();
            assert_eq!(err.status, 401, "{bad:?}");
        }
    }
}
