use crate::shared;

crate::tests!(cron_run_writes_a_heartbeat_at_the_scheduled_time);

fn cron_run_writes_a_heartbeat_at_the_scheduled_time() {
    let worker = shared();
    let scheduled_ms = 1_900_000_020_000u64;
    worker.run_cron(scheduled_ms);
    let rows = worker.d1(
        "SELECT last_run_ms, last_success_ms, last_error FROM cron_heartbeat WHERE job = 'minute'",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["last_run_ms"].as_f64(), Some(scheduled_ms as f64));
    assert_eq!(
        rows[0]["last_success_ms"].as_f64(),
        Some(scheduled_ms as f64)
    );
    assert!(rows[0]["last_error"].is_null(), "{rows:?}");
}
