//! What this build is: version, git revision and the migrations it expects, embedded at compile
//! time by `build.rs` so the worker can report them without any binding.

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The crate version, reported as `version` in health+json and in `X-Vigil-Version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision the worker was built from (`unknown` outside a git checkout).
pub const REVISION: &str = env!("VIGIL_REVISION");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_sorted_sql_files() {
        assert!(!MIGRATIONS.is_empty());
        assert!(MIGRATIONS.iter().all(|m| m.ends_with(".sql")));
        assert!(MIGRATIONS.windows(2).all(|w| w[0] < w[1]));
    }
}
