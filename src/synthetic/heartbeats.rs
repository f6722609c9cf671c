//! Heartbeat monitors: recording pings, and each monitor's status for the cron.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::store::{Store, StoreError};
use vigil_core::probes::heartbeats::{monitor_status, MonitorStatus};

/// Every configured monitor's status at `now_ms`, from the stored last pings.
pub async fn statuses(
    store: &Store,
    config: &Config,
    now_ms: f64,
) -> Result<BTreeMap<String, MonitorStatus>, StoreError> {
    if config.heartbeats.is_empty() {
        return Ok(BTreeMap::new());
    }
    let pings: BTreeMap<String, _> = store.last_pings().await?.into_iter().collect();
    Ok(config
        .heartbeats
        .iter()
        .map(|spec| {
            let last = pings.get(&spec.name).copied();
            (spec.name.clone(), monitor_status(spec, last, now_ms))
        })
        .collect())
}
