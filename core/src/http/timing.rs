//! `Server-Timing`: one entry per dependency a request touched, plus `total`.

/// Durations collected while serving one request, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerTiming {
    entries: Vec<(String, f64)>,
}

impl ServerTiming {
    pub fn record(&mut self, name: &str, duration_ms: f64) {
        self.entries.push((name.to_string(), duration_ms));
    }

    /// The header value, e.g. `d1;dur=3.1, kv;dur=1.2, total;dur=5.0`.
    pub fn header(&self, total_ms: f64) -> String {
        self.entries
            .iter()
            .map(|(name, dur)| (name.as_str(), *dur))
            .chain(std::iter::once(("total", total_ms)))
            .map(|(name, dur)| format!("{name};dur={dur:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_entries_then_total() {
        let mut timing = ServerTiming::default();
        timing.record("d1", 3.12);
        timing.record("kv", 1.2);
        assert_eq!(timing.header(5.0), "d1;dur=3.1, kv;dur=1.2, total;dur=5.0");
        assert_eq!(ServerTiming::default().header(0.26), "total;dur=0.3");
    }
}
