//! Grouping: alerts of one receiver with the same values of their route's `group_by` labels
//! share notifications. A group's notifications go out at "slots": the first after
//! `group_wait`, the next no sooner than `group_interval` after the last; changes in between
//! wait for the next slot and go out together.

use std::collections::BTreeMap;

use super::routing::Timing;

/// A group's identity within its receiver: its labels as canonical JSON (sorted keys).
pub fn group_key(group: &BTreeMap<String, String>) -> String {
    serde_json::to_string(group).unwrap_or_else(|_| "{}".into())
}

/// The group labels a [`group_key`] holds (none if it does not parse).
pub fn group_labels(key: &str) -> BTreeMap<String, String> {
    serde_json::from_str(key).unwrap_or_default()
}

/// When a change in a group at `now_ms` goes out, given the group's latest slot: with the
/// notification still waiting at that slot; else `group_interval` after it; else, for a group
/// that is new or has been quiet for a whole interval, `group_wait` from now.
pub fn due_ms(slot_ms: Option<f64>, now_ms: f64, timing: &Timing) -> f64 {
    match slot_ms {
        Some(slot) if slot >= now_ms => slot,
        Some(slot) if slot + timing.group_interval_ms > now_ms => slot + timing.group_interval_ms,
        _ => now_ms + timing.group_wait_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        group_wait_ms: 30_000.0,
        group_interval_ms: 300_000.0,
        repeat_interval_ms: None,
    };

    #[test]
    fn a_new_group_waits_group_wait_and_later_changes_join_or_follow_the_interval() {
        assert_eq!(due_ms(None, 0.0, &TIMING), 30_000.0);
        // Joins the notification still waiting.
        assert_eq!(due_ms(Some(30_000.0), 0.0, &TIMING), 30_000.0);
        assert_eq!(due_ms(Some(30_000.0), 30_000.0, &TIMING), 30_000.0);
        // After it went out: the next slot, one interval later.
        assert_eq!(due_ms(Some(30_000.0), 60_000.0, &TIMING), 330_000.0);
        // Quiet for a whole interval: a fresh start.
        assert_eq!(due_ms(Some(30_000.0), 400_000.0, &TIMING), 430_000.0);
    }

    #[test]
    fn group_keys_are_canonical_and_read_back() {
        let group = BTreeMap::from([
            ("service".to_string(), "api".to_string()),
            ("alertname".into(), "x".into()),
        ]);
        let key = group_key(&group);
        assert_eq!(key, r#"{"alertname":"x","service":"api"}"#);
        assert_eq!(group_labels(&key), group);
        assert!(group_labels("").is_empty());
    }
}
