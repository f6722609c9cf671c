//! `make check-config [CONFIG=path]`: validates a `vigil.config.json` with the Worker's own
//! parser, printing every problem the Worker would report, and exits non-zero on any.

use std::process::ExitCode;

use vigil_core::config::{problems, summary, ConfigFile, FILE_NAME};

fn main() -> ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| FILE_NAME.into());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{path}: cannot be read: {e}");
            return ExitCode::FAILURE;
        }
    };
    let found = problems(&text);
    if !found.is_empty() {
        for problem in &found {
            eprintln!("{problem}");
        }
        eprintln!("{path}: {} problem(s)", found.len());
        return ExitCode::FAILURE;
    }
    // `problems` found none, so the file parses.
    match ConfigFile::parse(&text).and_then(|file| file.parse_config(|_| None)) {
        Ok(config) => {
            println!("{path}: valid ({})", summary(&config));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
