//! Bearer-token checks, compared in constant time so response timing leaks nothing about the
//! token.

use super::reply::ApiError;

/// Checks `Authorization: Bearer <token>` against `expected`.
pub fn require_bearer(authorization: Option<&str>, expected: &str) -> Result<(), ApiError> {
    let given = authorization.and_then(bearer_token).unwrap_or("");
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

/// The token of an `Authorization: Bearer <token>` value. The scheme is case-insensitive
/// (RFC 9110 §11.1) and whitespace around the token is tolerated.
fn bearer_token(header: &str) -> Option<&str> {
    let header = header.trim();
    let (scheme, token) = header.split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
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
    fn the_scheme_is_case_insensitive_and_surrounding_whitespace_is_tolerated() {
        for header in [
            "BEARER s3cret",
            "bearer s3cret",
            "BeArEr s3cret",
            "Bearer s3cret  ",
            "Bearer   s3cret",
            "Bearer\ts3cret",
        ] {
            assert!(require_bearer(Some(header), "s3cret").is_ok(), "{header:?}");
        }
    }

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
