use std::collections::BTreeMap;

use super::maintenance::parse_maintenance;
use super::silence::parse_silence;
use super::*;

const NOW: f64 = 1_800_000_000_000.0; // 2027-01-15T08:00:00Z

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn silence(matchers: &str, starts: &str, ends: &str) -> Result<Silence, InvalidInput> {
    let body = format!(
        r#"{{"matchers": {matchers}, "startsAt": "{starts}", "endsAt": "{ends}",
            "createdBy": "ops", "comment": "deploy"}}"#
    );
    parse_silence(&body, NOW).map(|s| Silence {
        id: "s1".into(),
        ..s.silence
    })
}

const START: &str = "2027-01-15T07:00:00Z";
const END: &str = "2027-01-15T09:00:00Z";

#[test]
fn matchers_work_like_alertmanager_ones() {
    let s = silence(
        r#"[{"name": "service", "value": "api|web", "isRegex": true},
            {"name": "severity", "value": "info", "isRegex": false, "isEqual": false}]"#,
        START,
        END,
    )
    .unwrap();
    assert!(s.matches(&labels(&[("service", "api"), ("severity", "page")])));
    assert!(!s.matches(&labels(&[("service", "api"), ("severity", "info")])));
    assert!(
        !s.matches(&labels(&[("service", "apis")])),
        "regexes are anchored"
    );
    assert!(
        s.matches(&labels(&[("service", "web")])),
        "an absent label reads as \"\""
    );
    assert_eq!(s.phase(NOW), Phase::Active);
    assert_eq!(s.view(NOW)["status"]["state"], "active");
    assert_eq!(s.view(NOW)["matchers"][1]["isEqual"], false);
}

#[test]
fn silences_are_pending_then_active_then_expired_and_a_past_start_means_now() {
    let s = silence(
        r#"[{"name": "a", "value": "b", "isRegex": false}]"#,
        "2027-01-15T08:30:00Z",
        END,
    )
    .unwrap();
    assert_eq!(s.phase(NOW), Phase::Pending);
    assert_eq!(s.phase(NOW + 3_600_000.0), Phase::Expired);
    let s = silence(
        r#"[{"name": "a", "value": "b", "isRegex": false}]"#,
        START,
        END,
    )
    .unwrap();
    assert_eq!(s.starts_at_ms, NOW);
}

#[test]
fn bad_silences_name_the_field() {
    let one = r#"[{"name": "a", "value": "b", "isRegex": false}]"#;
    let field = |r: Result<Silence, InvalidInput>| r.unwrap_err().field;
    assert_eq!(
        field(silence(
            r#"[{"name": "a", "value": "(", "isRegex": true}]"#,
            START,
            END
        )),
        "matchers[0].value"
    );
    assert_eq!(
        field(silence(
            r#"[{"name": "1a", "value": "b", "isRegex": false}]"#,
            START,
            END
        )),
        "matchers[0].name"
    );
    assert_eq!(field(silence("[]", START, END)), "matchers");
    assert_eq!(
        field(silence(
            r#"[{"name": "a", "value": ".*", "isRegex": true}]"#,
            START,
            END
        )),
        "matchers",
        "a silence of everything"
    );
    assert_eq!(field(silence(one, END, START)), "endsAt");
    assert_eq!(field(silence(one, START, "2027-01-15T07:30:00Z")), "endsAt");
    assert_eq!(field(silence(one, "soon", END)), "startsAt");
    let unknown = r#"{"matchers": [], "startsAt": "x", "endsAt": "y", "createdBy": "a",
        "comment": "b", "extra": 1}"#;
    let err = parse_silence(unknown, NOW).unwrap_err();
    assert!(err.problem.contains("unknown field `extra`"), "{err}");
    let no_author = format!(
        r#"{{"matchers": {one}, "startsAt": "{START}", "endsAt": "{END}", "createdBy": " ", "comment": "c"}}"#
    );
    assert_eq!(
        parse_silence(&no_author, NOW).unwrap_err().field,
        "createdBy"
    );
}

#[test]
fn stored_matchers_that_no_longer_read_match_nothing() {
    let matchers = Silence::stored_matchers("not json");
    let s = Silence {
        id: "x".into(),
        matchers,
        starts_at_ms: 0.0,
        ends_at_ms: f64::MAX,
        created_by: String::new(),
        comment: String::new(),
        updated_at_ms: 0.0,
    };
    assert!(!s.matches(&labels(&[])));
    let round = silence(
        r#"[{"name": "a", "value": "b.*", "isRegex": true}]"#,
        START,
        END,
    )
    .unwrap();
    assert_eq!(
        Silence::stored_matchers(&round.matchers_json()),
        round.matchers
    );
    assert!(Silence::stored_matchers(&round.matchers_json())[0].matches(&labels(&[("a", "bc")])));
}

#[test]
fn maintenance_silences_the_alerts_of_its_components_while_active() {
    let body = format!(
        r#"{{"title": "DB upgrade", "components": ["api", "www"], "startsAt": "{START}", "endsAt": "{END}"}}"#
    );
    let m = [Maintenance {
        id: "m1".into(),
        ..parse_maintenance(&body, NOW).unwrap()
    }];
    let api = labels(&[("service", "api"), ("alertname", "x")]);
    let probe = labels(&[("probe", "www")]);
    let other = labels(&[("service", "shop")]);
    let s = [silence(
        r#"[{"name": "service", "value": "shop", "isRegex": false}]"#,
        START,
        END,
    )
    .unwrap()];
    assert_eq!(silenced_by(&api, &s, &m, NOW), ["maintenance:m1"]);
    assert_eq!(silenced_by(&probe, &[], &m, NOW), ["maintenance:m1"]);
    assert_eq!(silenced_by(&other, &s, &m, NOW), ["s1"]);
    assert!(silenced_by(&api, &s, &m, NOW + 7_200_000.0).is_empty());
    assert_eq!(m[0].view(NOW - 7_200_000.0)["state"], "upcoming");
}

#[test]
fn bad_maintenances_name_the_field() {
    let with = |title: &str, components: &str, ends: &str| {
        let body = format!(
            r#"{{"title": "{title}", "components": {components}, "startsAt": "{START}", "endsAt": "{ends}"}}"#
        );
        parse_maintenance(&body, NOW).unwrap_err().field
    };
    assert_eq!(with("", r#"["api"]"#, END), "title");
    assert_eq!(with("t", "[]", END), "components");
    assert_eq!(with("t", r#"[""]"#, END), "components[0]");
    assert_eq!(with("t", r#"["api"]"#, START), "endsAt");
    assert_eq!(with("t", r#"["api"]"#, "2027-03-15T07:00:00Z"), "endsAt");
}
