//! What makes a family invalid (bad names, duplicate series); checked in debug builds.

use super::{Family, MetricType, Value};

pub(super) fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub(super) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

/// Problems with a family's static shape; empty when it is valid. Checked by `debug_assert!`
/// in [`render`].
pub(super) fn problems(family: &Family) -> Vec<String> {
    let mut found = Vec::new();
    let name = family.name;
    if !is_metric_name(name) {
        found.push(format!("invalid metric name {name:?}"));
    }
    if family.kind == MetricType::Counter && name.ends_with("_total") {
        found.push(format!(
            "counter {name:?}: give the family name without _total"
        ));
    }
    if let Some(unit) = family.unit {
        if !name.ends_with(&format!("_{unit}")) {
            found.push(format!("{name:?} does not end with its unit _{unit}"));
        }
    }
    for sample in &family.samples {
        for (i, (key, _)) in sample.labels.iter().enumerate() {
            if !is_label_name(key) {
                found.push(format!("{name}: invalid label name {key:?}"));
            }
            if family.kind == MetricType::Histogram && *key == "le" {
                found.push(format!("{name}: histogram samples must not carry `le`"));
            }
            if sample.labels[..i].iter().any(|(k, _)| k == key) {
                found.push(format!("{name}: duplicate label {key:?}"));
            }
        }
        match (&sample.value, family.kind) {
            (Value::Number(_), MetricType::Counter | MetricType::Gauge) => {}
            (Value::Histogram(h), MetricType::Histogram) => {
                let ordered = h
                    .buckets
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
                let within = h.buckets.iter().all(|&(_, c)| c <= h.count);
                if !ordered || !within {
                    found.push(format!("{name}: buckets not ascending/cumulative"));
                }
            }
            _ => found.push(format!(
                "{name}: sample value does not match the family type"
            )),
        }
    }
    found
}

pub(super) fn debug_check(family: &Family) {
    if cfg!(debug_assertions) {
        let found = problems(family);
        debug_assert!(found.is_empty(), "{}", found.join("; "));
    }
}
