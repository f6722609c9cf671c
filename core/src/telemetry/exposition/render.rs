//! Writing families out in text 0.0.4 or OpenMetrics 1.0.

use std::fmt::Write as _;

use super::validate::debug_check;
use super::{Family, Format, MetricType, Value};

/// Renders families in `format`. Samples whose value does not match the family type are
/// skipped (a `debug_assert!` catches them in tests).
pub fn render(families: &[Family], format: Format) -> String {
    let mut out = String::new();
    for family in families {
        debug_check(family);
        render_family(&mut out, family, format);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn render_family(out: &mut String, family: &Family, format: Format) {
    let name = family.name;
    let kind = family.kind.as_str();
    match format {
        Format::Text004 => {
            let meta_name = match family.kind {
                MetricType::Counter => format!("{name}_total"),
                _ => name.to_string(),
            };
            let _ = writeln!(out, "# HELP {meta_name} {}", escape(family.help, false));
            let _ = writeln!(out, "# TYPE {meta_name} {kind}");
        }
        Format::OpenMetrics => {
            let _ = writeln!(out, "# TYPE {name} {kind}");
            if let Some(unit) = family.unit {
                if name.ends_with(&format!("_{unit}")) {
                    let _ = writeln!(out, "# UNIT {name} {unit}");
                }
            }
            let _ = writeln!(out, "# HELP {name} {}", escape(family.help, true));
        }
    }
    for sample in &family.samples {
        match (&sample.value, family.kind) {
            (Value::Number(v), MetricType::Counter) => {
                line(out, name, "_total", &sample.labels, None, &fmt_f64(*v));
            }
            (Value::Number(v), MetricType::Gauge) => {
                line(out, name, "", &sample.labels, None, &fmt_f64(*v));
            }
            (Value::Histogram(h), MetricType::Histogram) => {
                for &(bound, cumulative) in &h.buckets {
                    if bound.is_infinite() && bound > 0.0 {
                        continue; // rendered from `count` below
                    }
                    let le = fmt_f64(bound);
                    let v = cumulative.to_string();
                    line(out, name, "_bucket", &sample.labels, Some(&le), &v);
                }
                let count = h.count.to_string();
                line(out, name, "_bucket", &sample.labels, Some("+Inf"), &count);
                line(out, name, "_sum", &sample.labels, None, &fmt_f64(h.sum));
                line(out, name, "_count", &sample.labels, None, &count);
            }
            _ => {}
        }
    }
}

/// Writes `name+suffix{labels[,le="…"]} value\n`.
fn line(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&'static str, String)],
    le: Option<&str>,
    value: &str,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let all = labels
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(le.map(|le| ("le", le)));
        for (i, (key, val)) in all.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push_str("=\"");
            // Label values escape `"` in both formats.
            out.push_str(&escape(val, true));
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

/// Escapes `\` and newline, and `"` when `quote` (label values; OpenMetrics HELP). Text 0.0.4
/// HELP must not escape `"`: its parser rejects `\"` there.
fn escape(s: &str, quote: bool) -> std::borrow::Cow<'_, str> {
    let needs_escape = s.contains(['\\', '\n']) || (quote && s.contains('"'));
    if !needs_escape {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.into()
}

/// Formats a sample value or bound (see the module docs).
pub fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = v.abs();
    if v.fract() == 0.0 && abs < 1e15 {
        return format!("{}", v as i64);
    }
    if (1e-4..1e15).contains(&abs) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}
