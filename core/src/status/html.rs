//! The status page as server-rendered HTML: no JavaScript, readable from 320 px up, states in
//! words (colour only repeats them), and every user-provided string escaped.

use std::fmt::Write;

use super::model::{Component, DayBar, StatusPage};

/// `text` safe in HTML text and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
main{max-width:960px;margin:0 auto;padding:16px}
h1{font-size:1.6rem;margin:8px 0 16px;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:24px 0 8px}
.banner{padding:14px 16px;border-radius:8px;color:#fff;font-weight:600;font-size:1.1rem}
.s-operational{background:#1a7f37}.s-degraded{background:#9a6700}.s-partial_outage{background:#bc4c00}
.s-major_outage{background:#cf222e}.s-maintenance{background:#0969da}.s-unknown{background:#6e7781}
ul.list{list-style:none;margin:0;padding:0}
.component,.incident,.maintenance{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 14px;margin:0 0 10px}
.head{display:flex;flex-wrap:wrap;justify-content:space-between;gap:4px 12px}
.name{font-weight:600;overflow-wrap:anywhere;min-width:0}
.kind{color:#57606a;font-weight:400;font-size:.85rem}
.state{font-weight:600}
.bars{display:grid;grid-template-columns:repeat(90,minmax(0,1fr));gap:1px;list-style:none;margin:10px 0 4px;padding:0;height:32px}
.bar{border-radius:1px}
.d-operational{background:#2da44e}.d-degraded{background:#d4a72c}.d-outage{background:#cf222e}.d-no_data{background:#d0d7de}
.legend{display:flex;justify-content:space-between;color:#57606a;font-size:.8rem}
.vh{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
footer{color:#57606a;font-size:.85rem;margin:24px 0}
";

pub fn render(page: &StatusPage) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let title = escape(&page.title);
    let overall = page.overall.state.as_str();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main>\
         <h1>{title}</h1>\
         <p class=\"banner s-{overall}\" data-state=\"{overall}\" role=\"status\">{}</p>",
        page.overall.description
    );
    incidents(&mut html, page);
    maintenances(&mut html, page);
    html.push_str("<h2>Components</h2><ul class=\"list\">");
    for component in &page.components {
        render_component(&mut html, component);
    }
    let _ = write!(
        html,
        "</ul><footer>Last updated <time datetime=\"{0}\">{0}</time>. Bars show each \
         day's availability (UTC), oldest first.</footer></main></body></html>",
        page.updated_at
    );
    html
}

fn incidents(html: &mut String, page: &StatusPage) {
    if page.incidents.is_empty() {
        return;
    }
    html.push_str("<h2>Active incidents</h2><ul class=\"list\">");
    for i in &page.incidents {
        let _ = write!(
            html,
            "<li class=\"incident\"><div class=\"head\"><span class=\"name\">{}</span>\
             <span class=\"component-name\">{}</span></div>\
             <div>Since <time datetime=\"{2}\">{2}</time></div></li>",
            escape(&i.summary),
            escape(&i.component),
            i.started_at
        );
    }
    html.push_str("</ul>");
}

fn maintenances(html: &mut String, page: &StatusPage) {
    if page.maintenances.is_empty() {
        return;
    }
    html.push_str("<h2>Maintenance</h2><ul class=\"list\">");
    for m in &page.maintenances {
        let state = if m.state == "active" {
            "In progress"
        } else {
            "Scheduled"
        };
        let components: Vec<String> = m.components.iter().map(|c| escape(c)).collect();
        let _ = write!(
            html,
            "<li class=\"maintenance\" data-state=\"{}\"><div class=\"head\">\
             <span class=\"name\">{}</span><span class=\"state\">{state}</span></div>\
             <div>Affects: {}</div><div><time datetime=\"{3}\">{3}</time> to \
             <time datetime=\"{4}\">{4}</time></div></li>",
            m.state,
            escape(&m.title),
            components.join(", "),
            m.starts_at,
            m.ends_at
        );
    }
    html.push_str("</ul>");
}

fn render_component(html: &mut String, c: &Component) {
    let name = escape(&c.name);
    let uptime = c
        .uptime_90d
        .map_or("no data".into(), |u| format!("{} uptime", percent(u)));
    let _ = write!(
        html,
        "<li class=\"component\" data-state=\"{}\"><div class=\"head\">\
         <span class=\"name\">{name} <span class=\"kind\">{}</span></span>\
         <span class=\"state\">{}</span></div>\
         <ol class=\"bars\" aria-label=\"{name}: availability over the last 90 days\">",
        c.state.as_str(),
        kind_label(c),
        c.state.label()
    );
    for day in &c.days {
        bar(html, day);
    }
    let _ = write!(
        html,
        "</ol><div class=\"legend\"><span>90 days ago</span><span>{uptime}</span>\
         <span>Today</span></div></li>"
    );
}

fn bar(html: &mut String, day: &DayBar) {
    let text = match day.availability {
        Some(a) => format!(
            "{}: {} available, {}",
            day.date,
            percent(a),
            day.state.label()
        ),
        None => format!("{}: no data", day.date),
    };
    let _ = write!(
        html,
        "<li class=\"bar d-{}\" title=\"{text}\"><span class=\"vh\">{text}</span></li>",
        day.state.as_str()
    );
}

fn kind_label(c: &Component) -> &'static str {
    match c.kind {
        super::model::ComponentKind::Service => "service",
        super::model::ComponentKind::Probe => "check",
        super::model::ComponentKind::Monitor => "scheduled job",
        super::model::ComponentKind::Dependency => "dependency",
    }
}

/// `99.95%`: two decimals, never rounded up to 100 % while something failed.
pub fn percent(ratio: f64) -> String {
    let hundredths = (ratio * 10_000.0).floor() / 100.0;
    format!("{hundredths:.2}%")
}
