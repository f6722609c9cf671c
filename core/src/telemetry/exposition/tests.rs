//! The exposition's tests: formats, escaping, negotiation, validity and promtool.

use super::validate::{is_label_name, is_metric_name, problems};
use super::*;
use crate::telemetry::metrics::BUCKET_BOUNDS_SECONDS;

fn requests() -> Family {
    let mut f = Family::counter("vigil_http_requests", "HTTP requests handled.");
    f.push(
        [
            ("route", "/healthz".to_string()),
            ("method", "GET".to_string()),
            ("code", "200".to_string()),
        ],
        1027.0,
    );
    f.push(
        [
            ("route", "/metrics".to_string()),
            ("method", "GET".to_string()),
            ("code", "401".to_string()),
        ],
        3.0,
    );
    f
}

fn build_info() -> Family {
    Family::gauge("vigil_build_info", "Build information; always 1.").with(
        [
            ("version", "0.1.0".to_string()),
            ("environment", "production".to_string()),
        ],
        1.0,
    )
}

fn duration() -> Family {
    // 3 requests: 0.004 s, 0.2 s, 12 s.
    let mut counts = [0u64; 12];
    counts[0] = 1;
    counts[5] = 1;
    counts[11] = 1;
    let mut f = Family::histogram(
        "vigil_http_request_duration_seconds",
        "HTTP request latency.",
    )
    .with_unit("seconds");
    f.push_histogram(
        [("route", "/healthz".to_string())],
        Histogram::from_counts(&BUCKET_BOUNDS_SECONDS, &counts, 12.204),
    );
    f
}

const COUNTER_TEXT: &str = "\
# HELP vigil_http_requests_total HTTP requests handled.
# TYPE vigil_http_requests_total counter
vigil_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 1027
vigil_http_requests_total{route=\"/metrics\",method=\"GET\",code=\"401\"} 3
";

const COUNTER_OM: &str = "\
# TYPE vigil_http_requests counter
# HELP vigil_http_requests HTTP requests handled.
vigil_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 1027
vigil_http_requests_total{route=\"/metrics\",method=\"GET\",code=\"401\"} 3
";

const GAUGE_TEXT: &str = "\
# HELP vigil_build_info Build information; always 1.
# TYPE vigil_build_info gauge
vigil_build_info{version=\"0.1.0\",environment=\"production\"} 1
";

const GAUGE_OM: &str = "\
# TYPE vigil_build_info gauge
# HELP vigil_build_info Build information; always 1.
vigil_build_info{version=\"0.1.0\",environment=\"production\"} 1
";

const HISTOGRAM_SAMPLES: &str = "\
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.01\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.025\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.05\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.1\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.25\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.5\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"1\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"2.5\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"5\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"10\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 3
vigil_http_request_duration_seconds_sum{route=\"/healthz\"} 12.204
vigil_http_request_duration_seconds_count{route=\"/healthz\"} 3
";

#[test]
fn counter_text() {
    assert_eq!(render(&[requests()], Format::Text004), COUNTER_TEXT);
}

#[test]
fn counter_openmetrics() {
    let want = format!("{COUNTER_OM}# EOF\n");
    assert_eq!(render(&[requests()], Format::OpenMetrics), want);
}

#[test]
fn gauge_both_formats() {
    assert_eq!(render(&[build_info()], Format::Text004), GAUGE_TEXT);
    let want = format!("{GAUGE_OM}# EOF\n");
    assert_eq!(render(&[build_info()], Format::OpenMetrics), want);
}

#[test]
fn histogram_text() {
    let want = format!(
        "# HELP vigil_http_request_duration_seconds HTTP request latency.\n\
         # TYPE vigil_http_request_duration_seconds histogram\n{HISTOGRAM_SAMPLES}"
    );
    assert_eq!(render(&[duration()], Format::Text004), want);
}

#[test]
fn histogram_openmetrics() {
    let want = format!(
        "# TYPE vigil_http_request_duration_seconds histogram\n\
         # UNIT vigil_http_request_duration_seconds seconds\n\
         # HELP vigil_http_request_duration_seconds HTTP request latency.\n\
         {HISTOGRAM_SAMPLES}# EOF\n"
    );
    assert_eq!(render(&[duration()], Format::OpenMetrics), want);
}

#[test]
fn histogram_explicit_inf_bucket_is_not_duplicated() {
    let mut f = Family::histogram("x_seconds", "x");
    f.push_histogram(
        Vec::new(),
        Histogram {
            buckets: vec![(1.0, 1), (f64::INFINITY, 2)],
            sum: 3.0,
            count: 2,
        },
    );
    let want = "# HELP x_seconds x\n# TYPE x_seconds histogram\n\
                x_seconds_bucket{le=\"1\"} 1\nx_seconds_bucket{le=\"+Inf\"} 2\n\
                x_seconds_sum 3\nx_seconds_count 2\n";
    assert_eq!(render(&[f], Format::Text004), want);
}

#[test]
fn families_and_samples_keep_order_and_empty_families_keep_metadata() {
    let empty = Family::counter("vigil_notifications_sent", "Notifications sent.");
    let text = render(&[build_info(), empty.clone(), requests()], Format::Text004);
    let want = format!(
        "{GAUGE_TEXT}# HELP vigil_notifications_sent_total Notifications sent.\n\
         # TYPE vigil_notifications_sent_total counter\n{COUNTER_TEXT}"
    );
    assert_eq!(text, want);
    let om = render(&[empty], Format::OpenMetrics);
    assert_eq!(
        om,
        "# TYPE vigil_notifications_sent counter\n\
         # HELP vigil_notifications_sent Notifications sent.\n# EOF\n"
    );
    assert_eq!(render(&[], Format::OpenMetrics), "# EOF\n");
    assert_eq!(render(&[], Format::Text004), "");
}

#[test]
fn label_values_are_escaped() {
    let f = Family::gauge("g", "h").with([("v", "a\"b\\c\nd".to_string())], 2.0);
    let want = "g{v=\"a\\\"b\\\\c\\nd\"} 2\n";
    assert!(render(std::slice::from_ref(&f), Format::Text004).ends_with(want));
    assert!(render(&[f], Format::OpenMetrics).ends_with(&format!("{want}# EOF\n")));
}

#[test]
fn help_is_escaped_per_format() {
    let f = Family::gauge("g", "say \"hi\" \\ then\nmore");
    assert_eq!(
        render(std::slice::from_ref(&f), Format::Text004),
        "# HELP g say \"hi\" \\\\ then\\nmore\n# TYPE g gauge\n"
    );
    assert_eq!(
        render(&[f], Format::OpenMetrics),
        "# TYPE g gauge\n# HELP g say \\\"hi\\\" \\\\ then\\nmore\n# EOF\n"
    );
}

#[test]
fn unit_line_only_when_name_ends_with_unit() {
    let f =
        Family::gauge("vigil_slo_error_budget_remaining_ratio", "Budget left.").with_unit("ratio");
    assert!(render(&[f], Format::OpenMetrics)
        .contains("# UNIT vigil_slo_error_budget_remaining_ratio ratio\n"));
    let no_unit = Family::gauge("vigil_alert_state", "State.");
    assert!(!render(&[no_unit], Format::OpenMetrics).contains("# UNIT"));
    let counter = Family::counter("vigil_cpu_seconds", "CPU.").with_unit("seconds");
    let om = render(&[counter.with(Vec::new(), 1.5)], Format::OpenMetrics);
    assert!(om.contains("# UNIT vigil_cpu_seconds seconds\n"));
    assert!(om.contains("\nvigil_cpu_seconds_total 1.5\n"));
}

#[test]
fn floats() {
    let cases = [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (10.0, "10"),
        (2.5, "2.5"),
        (0.005, "0.005"),
        (0.0001, "0.0001"),
        (1.5e-7, "1.5e-7"),
        (-3.0, "-3"),
        (123456789.0, "123456789"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e20, "1e20"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
    ];
    for (v, want) in cases {
        assert_eq!(fmt_f64(v), want, "{v}");
    }
    // Every bound parses back exactly.
    for b in BUCKET_BOUNDS_SECONDS {
        assert_eq!(fmt_f64(b).parse::<f64>().unwrap(), b);
    }
}

#[test]
fn negotiation() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                      version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(negotiate(prometheus), Format::OpenMetrics);
    assert_eq!(
        negotiate("application/openmetrics-text"),
        Format::OpenMetrics
    );
    assert_eq!(
        negotiate("application/openmetrics-text; version=\"1.0.0\"; charset=utf-8"),
        Format::OpenMetrics
    );
    assert_eq!(
        negotiate("Application/OpenMetrics-Text;Version=1.0.0"),
        Format::OpenMetrics
    );
    assert_eq!(negotiate("text/plain"), Format::Text004);
    assert_eq!(negotiate(""), Format::Text004);
    assert_eq!(negotiate("*/*"), Format::Text004);
    assert_eq!(negotiate("garbage;;,=,"), Format::Text004);
    assert_eq!(
        negotiate("application/openmetrics-text;version=0.0.1"),
        Format::Text004
    );
    assert_eq!(
        negotiate("application/openmetrics-text;version=2.0.0"),
        Format::Text004
    );
    assert_eq!(
        negotiate("application/openmetrics-text;q=0"),
        Format::Text004
    );
    // Preference by q, not by position.
    assert_eq!(
        negotiate("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;q=0.9"),
        Format::OpenMetrics
    );
    assert_eq!(
        negotiate("application/openmetrics-text;q=0.3,text/plain;version=0.0.4"),
        Format::Text004
    );
}

#[test]
fn content_types() {
    assert_eq!(
        content_type(Format::Text004),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(
        content_type(Format::OpenMetrics),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
}

#[test]
fn from_counts_is_cumulative() {
    let h = Histogram::from_counts(&[1.0, 2.0], &[2, 0, 5], 9.5);
    assert_eq!(h.buckets, vec![(1.0, 2), (2.0, 2)]);
    assert_eq!(h.count, 7);
    let h = Histogram::from_counts(&[1.0, 2.0], &[2, 3], 1.0);
    assert_eq!(h.count, 5);
}

#[test]
fn validity_checks() {
    assert!(is_metric_name("vigil_http_requests"));
    assert!(is_metric_name("a:b_c9"));
    assert!(!is_metric_name("9a"));
    assert!(!is_metric_name("a-b"));
    assert!(!is_metric_name(""));
    assert!(is_label_name("route"));
    assert!(is_label_name("_x1"));
    assert!(!is_label_name("__name__"));
    assert!(!is_label_name("a:b"));
    assert!(!is_label_name("1a"));
    for f in [requests(), build_info(), duration()] {
        assert!(problems(&f).is_empty(), "{:?}", problems(&f));
    }
    let bad = Family::counter("vigil_x_total", "x").with([("le", "1".to_string())], 1.0);
    assert_eq!(problems(&bad).len(), 1);
    let mut bad = Family::histogram("h_seconds", "h").with_unit("bytes");
    bad.push([("le", "1".to_string())], 1.0);
    assert_eq!(problems(&bad).len(), 3, "{:?}", problems(&bad));
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "without _total")]
fn render_asserts_on_invalid_families() {
    render(&[Family::counter("vigil_x_total", "x")], Format::Text004);
}

/// Runs `promtool check metrics` over a text exposition with all three types.
#[test]
fn promtool_accepts_text_exposition() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut escaped = Family::gauge(
        "vigil_dependency_up",
        "Whether a dependency check passed \"last\" time (1) or not (0).\nPer check.",
    );
    escaped.push([("check", "d1 \"main\"\\x\ny".to_string())], 0.0);
    let mut ratio = Family::gauge(
        "vigil_slo_error_budget_remaining_ratio",
        "Share of the error budget left.",
    );
    ratio.push([("slo", "availability".to_string())], f64::NAN);
    let families = [
        requests(),
        duration(),
        build_info(),
        escaped,
        ratio,
        Family::counter("vigil_notifications_sent", "Notifications sent."),
        Family::histogram("vigil_dependency_check_duration_seconds", "Check latency."),
    ];
    let text = render(&families, Format::Text004);

    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    // No skipping: a missing promtool fails the test (`make test` installs it).
    let mut child = child
        .expect("promtool runs (Debian's `prometheus` package; `make test-tools` installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "promtool check metrics: {}\nstdout: {stdout}\nstderr: {stderr}\ninput:\n{text}",
        output.status
    );
}
