//! `/metrics`: Prometheus exposition of the cluster-wide totals in D1 (text 0.0.4, or
//! OpenMetrics 1.0 when the scraper asks for it).

use super::{store_unavailable, RequestInfo};
use crate::build_info;
use crate::clock::now_ms;
use crate::cron;
use crate::store::StoreError;
use crate::telemetry::catalog::{self, AlertSample, Snapshot};
use crate::telemetry::exposition;
use vigil_core::alerting::instances::SubjectKind;
use vigil_core::http::auth::require_bearer;
use vigil_core::http::reply::{ApiError, Reply};
use vigil_core::http::timing::ServerTiming;
use vigil_core::telemetry::counters::PipelineCounters;

pub async fn metrics(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Result<Reply, ApiError> {
    if let Some(token) = &req.config.metrics_token {
        require_bearer(req.incoming.authorization.as_deref(), token.expose())?;
    }
    let started = now_ms();
    let snapshot = read_snapshot(req).await;
    timing.record("d1", now_ms() - started);
    let snapshot = snapshot.map_err(|e| store_unavailable(req, e))?;
    let format = exposition::negotiate(&req.incoming.accept);
    Ok(Reply {
        status: 200,
        content_type: exposition::content_type(format),
        body: exposition::render(&catalog::families(&snapshot), format),
        headers: Vec::new(),
    })
}

async fn read_snapshot(req: &RequestInfo<'_>) -> Result<Snapshot, StoreError> {
    let store = req.store()?;
    let (requests, queries, dependencies, heartbeat, counters) = futures::join!(
        store.request_totals(),
        store.query_totals(),
        store.dependency_statuses(),
        store.read_heartbeat(cron::JOB),
        store.counters(),
    );
    let (invocations, exceptions, log_lines) = futures::join!(
        store.invocation_totals(),
        store.exception_totals(),
        store.log_totals(),
    );
    let (alerts, slos, notifications, outbox) = futures::join!(
        store.alert_rows(),
        store.slo_reports(),
        store.notification_counts(),
        store.outbox_backlog(),
    );
    let (probes, pings) = futures::join!(store.probe_states(), store.last_pings());
    let config = req.config;
    let configured = |name: &String| config.probes.iter().any(|p| &p.name == name);
    let monitored = |name: &String| config.heartbeats.iter().any(|m| &m.name == name);
    Ok(Snapshot {
        environment: req.config.environment.clone(),
        revision: build_info::REVISION.to_string(),
        requests: requests?,
        queries: queries?,
        invocations: invocations?,
        exceptions: exceptions?,
        log_lines: log_lines?,
        dependencies: dependencies?,
        cron_last_success_ms: heartbeat
            .as_ref()
            .ok()
            .and_then(|hb| hb.as_ref()?.last_success_ms),
        cron_last_use: heartbeat?.and_then(|hb| hb.last_use),
        counters: PipelineCounters::from_stored(&counters?),
        alerts: alerts?
            .into_iter()
            .map(|row| AlertSample {
                subject: SubjectKind::of(&row.labels)
                    .map(|(kind, name)| (kind.label(), name.to_string())),
                alertname: row.rule_id,
                severity: row.severity.as_str().to_string(),
                state: row.state.phase.as_str().to_string(),
            })
            .collect(),
        slos: slos?,
        // What is no longer configured is not shown.
        probes: probes?
            .into_iter()
            .filter(|(name, _)| configured(name))
            .collect(),
        heartbeats: pings?
            .into_iter()
            .filter(|(name, _)| monitored(name))
            .collect(),
        notifications: notifications?,
        outbox: outbox?,
        now_ms: now_ms(),
    })
}
