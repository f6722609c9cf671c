//! What an alerting pass tells receivers: each changed instance is routed to its receivers,
//! muted while silenced or inhibited, and its notifications are scheduled into their group's
//! next slot and written to the outbox with the states.

use std::collections::{BTreeMap, BTreeSet};

use super::notify::grouping::due_ms;
use super::notify::inhibition::inhibited;
use super::notify::NotificationKind;
use super::plan::{alert_labels, announcement, plan, Origin, Planned, Step};
use super::state::AlertPhase;
use crate::config::NotifyConfig;
use crate::store::{AlertChange, GroupSlot, OutboxEntry, Store, StoreError};
use vigil_core::silencing::maintenance::Maintenance;
use vigil_core::silencing::silence::Silence;
use vigil_core::silencing::silenced_by;

/// What mutes notifications this run.
pub struct Quiet<'a> {
    pub silences: &'a [Silence],
    pub maintenances: &'a [Maintenance],
}

/// Fills in every change's outbox rows (recording in its state what receivers are told) and
/// returns the group slots to save with them. Reads D1 only when a grouping receiver has news.
pub async fn enqueue(
    store: &Store,
    notify: &NotifyConfig,
    changes: &mut [AlertChange],
    quiet: &Quiet<'_>,
    origin: &Origin<'_>,
    now_ms: f64,
) -> Result<Vec<GroupSlot>, StoreError> {
    let labels: Vec<BTreeMap<String, String>> = changes
        .iter()
        .map(|c| alert_labels(c.row.subject(), origin))
        .collect();
    let firing: Vec<BTreeMap<String, String>> = changes
        .iter()
        .zip(&labels)
        .filter(|(c, _)| c.row.state.phase == AlertPhase::Firing)
        .map(|(_, l)| l.clone())
        .collect();
    let mut planned = Vec::with_capacity(changes.len());
    for (change, labels) in changes.iter_mut().zip(&labels) {
        let silenced = !silenced_by(
            &change.row.labels,
            quiet.silences,
            quiet.maintenances,
            now_ms,
        )
        .is_empty()
            || inhibited(&notify.routing.inhibit_rules, labels, &firing);
        let destinations = notify.routing.destinations(labels, &notify.receivers);
        planned.push(tell(change, silenced, &destinations, origin, now_ms));
    }

    // Each group once: ten alerts of one group are one slot to read.
    let groups: BTreeSet<(String, String)> = planned
        .iter()
        .flatten()
        .filter_map(|p| {
            p.group
                .as_ref()
                .map(|(key, _)| (p.receiver.clone(), key.clone()))
        })
        .collect();
    let mut slots = if groups.is_empty() {
        BTreeMap::new()
    } else {
        let groups: Vec<(String, String)> = groups.into_iter().collect();
        store.group_slots(&groups).await?
    };
    for (change, planned) in changes.iter_mut().zip(planned) {
        for p in planned {
            let (group_key, due) = match &p.group {
                Some((key, timing)) => {
                    let id = (p.receiver.clone(), key.clone());
                    let due = due_ms(slots.get(&id).copied(), now_ms, timing);
                    slots.insert(id, due);
                    (key.clone(), due)
                }
                None => (String::new(), now_ms),
            };
            change.outbox.push(OutboxEntry {
                receiver: p.receiver,
                alert_key: change.row.alert_key.clone(),
                dedup_key: p.dedup_key,
                payload: serde_json::to_string(&p.notification)
                    .map_err(|e| StoreError(format!("notification does not serialize: {e}")))?,
                refresh: p.refresh,
                group_key,
                due_ms: due,
            });
        }
    }
    // Every slot read belongs to a group with news this run, so every one has moved.
    Ok(slots
        .into_iter()
        .map(|((receiver, group_key), slot_ms)| GroupSlot {
            receiver,
            group_key,
            slot_ms,
        })
        .collect())
}

/// The notifications an alert's change causes (none while it is `silenced`), recording in its
/// state what receivers are told.
fn tell(
    change: &mut AlertChange,
    silenced: bool,
    destinations: &[super::notify::routing::Destination<'_>],
    origin: &Origin<'_>,
    now_ms: f64,
) -> Vec<Planned> {
    let state = &change.row.state;
    // A run at or before the last evaluation (a retried cron) changed nothing and tells nothing.
    if state.last_eval_ms != Some(now_ms) {
        return Vec::new();
    }
    let step = Step {
        announced: announcement(state, change.transition, silenced, now_ms),
        silenced,
        previous_eval_ms: change.previous_eval_ms,
        now_ms,
    };
    let planned = plan(change.row.subject(), state, step, destinations, origin);
    if let Some((kind, _)) = step.announced {
        let state = &mut change.row.state;
        state.last_notified_ms = Some(now_ms);
        if kind != NotificationKind::Repeat {
            state.last_sent = Some(kind);
        }
    }
    planned
}
