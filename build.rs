//! Embeds what the running worker must know about the code it was built from: the git revision
//! (for `releaseId` and `vigil_build_info`) and the ordered list of D1 migrations, so
//! `/readyz/migrations` can tell whether the database is behind the code.

use std::{env, fs, path::Path, process::Command};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    println!("cargo:rerun-if-env-changed=VIGIL_REVISION");

    let revision = env::var("VIGIL_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(git_revision)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=VIGIL_REVISION={revision}");

    let mut migrations: Vec<String> = fs::read_dir("migrations")
        .expect("the migrations/ folder is part of the crate")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    // wrangler applies migrations in file-name order; the embedded list follows the same order.
    migrations.sort();

    let list = migrations
        .iter()
        .map(|name| format!("{name:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    fs::write(
        out,
        format!("/// Migration files under `migrations/`, in the order wrangler applies them.\npub const MIGRATIONS: &[&str] = &[{list}];\n"),
    )
    .expect("OUT_DIR is writable");
}

fn git_revision() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    let revision = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !revision.is_empty()).then_some(revision)
}
