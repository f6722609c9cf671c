//! Badges for READMEs and dashboards: a small SVG, and shields.io's endpoint JSON
//! (`https://img.shields.io/endpoint?url=…`), for a component's status or 30-day uptime.

use serde_json::{json, Value};

use super::html::{escape, percent};
use super::model::{Component, ComponentState};

/// What a badge shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeKind {
    Status,
    Uptime,
}

impl BadgeKind {
    pub fn parse(text: &str) -> Option<BadgeKind> {
        match text {
            "status" => Some(BadgeKind::Status),
            "uptime" => Some(BadgeKind::Uptime),
            _ => None,
        }
    }
}

/// The badge's label, message and colour (shields.io's named colours).
fn face(c: &Component, kind: BadgeKind) -> (String, String, &'static str) {
    match kind {
        BadgeKind::Status => {
            let colour = match c.state {
                ComponentState::Operational => "brightgreen",
                ComponentState::Degraded => "yellow",
                ComponentState::PartialOutage => "orange",
                ComponentState::MajorOutage => "red",
                ComponentState::Maintenance => "blue",
                ComponentState::Unknown => "lightgrey",
            };
            (c.name.clone(), c.state.label().to_lowercase(), colour)
        }
        BadgeKind::Uptime => {
            let (message, colour) = match c.uptime_30d {
                None => ("no data".to_string(), "lightgrey"),
                Some(u) if u >= 0.999 => (percent(u), "brightgreen"),
                Some(u) if u >= 0.99 => (percent(u), "yellow"),
                Some(u) => (percent(u), "red"),
            };
            (format!("{} uptime 30d", c.name), message, colour)
        }
    }
}

/// shields.io's endpoint schema.
pub fn endpoint_json(c: &Component, kind: BadgeKind) -> Value {
    let (label, message, color) = face(c, kind);
    json!({"schemaVersion": 1, "label": label, "message": message, "color": color})
}

fn hex(colour: &str) -> &'static str {
    match colour {
        "brightgreen" => "#4c1",
        "yellow" => "#dfb317",
        "orange" => "#fe7d37",
        "red" => "#e05d44",
        "blue" => "#007ec6",
        _ => "#9f9f9f",
    }
}

/// A flat badge; widths estimated at 7 px per character (no font metrics in a worker).
pub fn svg(c: &Component, kind: BadgeKind) -> String {
    let (label, message, colour) = face(c, kind);
    let width = |t: &str| 10 + 7 * t.chars().count() as u32;
    let (lw, mw) = (width(&label), width(&message));
    let (label, message) = (escape(&label), escape(&message));
    let total = lw + mw;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total}\" height=\"20\" role=\"img\" \
         aria-label=\"{label}: {message}\"><title>{label}: {message}</title>\
         <rect width=\"{lw}\" height=\"20\" fill=\"#555\"/>\
         <rect x=\"{lw}\" width=\"{mw}\" height=\"20\" fill=\"{}\"/>\
         <g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,sans-serif\" font-size=\"11\">\
         <text x=\"5\" y=\"14\">{label}</text><text x=\"{}\" y=\"14\">{message}</text></g></svg>",
        hex(colour),
        lw + 5
    )
}
