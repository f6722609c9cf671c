//! The status page's daily bars across builds: a later build of the same isolate, which keeps
//! the finished days' totals and reads only the current minute's, draws the same bars. (In the
//! first ten minutes of a UTC day the isolate keeps nothing yet and both builds read it all.)

use std::time::Duration;

use serde_json::Value;

use crate::harness::now_ms;
use crate::receiver::{Behavior, Receiver};
use crate::status::{hub, MINUTE};

crate::tests!(a_later_build_draws_the_same_past_days);

const DAY: u64 = 24 * 60 * MINUTE;

/// Each component's name and bars (date and availability), as `/status.json` shows them.
fn bars(json: &Value) -> Vec<(String, Vec<(String, Value)>)> {
    let components = json["components"].as_array().cloned().unwrap_or_default();
    components
        .iter()
        .map(|c| {
            let days = c["days"].as_array().cloned().unwrap_or_default();
            let days = days
                .iter()
                .map(|d| (d["date"].to_string(), d["availability"].clone()))
                .collect();
            (c["name"].to_string(), days)
        })
        .collect()
}

fn a_later_build_draws_the_same_past_days() {
    let target = Receiver::start(Behavior::Status(200));
    target.set_path("/down", Behavior::Status(503));
    let receiver = Receiver::start(Behavior::Status(200));
    let hub = hub(
        &[("www", format!("{}/down", target.url))],
        &receiver,
        vec![],
    );
    // Checks two days ago and yesterday (failed: availability 0), none since.
    hub.run_cron(now_ms() - 2 * DAY);
    hub.run_cron(now_ms() - DAY);
    let first = hub.get("/status.json").json();
    let www = bars(&first).into_iter().find(|(name, _)| name == "\"www\"");
    let (_, days) = www.unwrap_or_else(|| panic!("no www: {first}"));
    let failed: Vec<&(String, Value)> = days.iter().filter(|(_, a)| *a == 0.0).collect();
    assert_eq!(failed.len(), 2, "two failed days: {days:?}");
    // Past the page's 30 s lifetime (as the cache counts it), a request builds it again.
    let built_at = first["updatedAt"].as_str().expect("updatedAt").to_string();
    std::thread::sleep(Duration::from_secs(30));
    let mut second = hub.get("/status.json").json();
    for _ in 0..30 {
        if second["updatedAt"] != built_at.as_str() {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
        second = hub.get("/status.json").json();
    }
    assert_ne!(second["updatedAt"], built_at.as_str(), "rebuilt: {second}");
    assert_eq!(bars(&second), bars(&first));
}
