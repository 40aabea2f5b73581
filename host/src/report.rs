//! `netcap report DIR [-o FILE]`: one self-contained HTML file about a directory of record files,
//! built from the same bounded aggregates as `netcap stats` ([`crate::overview`]): records by
//! decoder and type (sunburst), bytes by application protocol (treemap), top talkers (bars),
//! connections over time (line), the host communication graph, and sortable, filterable tables
//! (talkers, conversations, DNS names, TLS names with JA3/JA4, HTTP hosts and user agents, SSH
//! software, DHCP hosts, labels, every record type with its fields).
//!
//! The page needs no network: Apache ECharts (vendored in `host/assets/echarts`, with its
//! license) and the data are inlined. Charts use the SVG renderer without animation, so a
//! headless browser's DOM holds what was drawn; script errors are written into the page.

use crate::overview::Overview;
use std::collections::HashMap;

/// How every report starts (an existing file is replaced only if it starts so).
pub const SIGNATURE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>netcap report: ";

/// The vendored charting library.
const ECHARTS: &str = include_str!("../assets/echarts/echarts.min.js");
/// Rows per table.
const ROWS: usize = 50;
/// Hosts in the communication graph.
const GRAPH_HOSTS: usize = 30;

/// The report page for `o`, titled `title`.
pub fn render(o: &Overview, title: &str) -> String {
    let data = data(o, title);
    // `</` cannot end the script element from inside the data.
    let data = data.to_string().replace("</", "<\\/");
    let mut page = String::with_capacity(ECHARTS.len() + data.len() + APP.len() + 4096);
    page.push_str(SIGNATURE);
    page.push_str(&html_escape(title));
    page.push_str("</title>\n<style>");
    page.push_str(CSS);
    page.push_str("</style>\n<script>");
    page.push_str(ERRORS);
    page.push_str("</script>\n<script>");
    page.push_str(ECHARTS);
    page.push_str("</script>\n</head><body>\n<script id=\"data\" type=\"application/json\">");
    page.push_str(&data);
    page.push_str("</script>\n<script>");
    page.push_str(APP);
    page.push_str("</script>\n</body></html>\n");
    page
}

/// The report's data: every aggregate the page shows.
fn data(o: &Overview, title: &str) -> serde_json::Value {
    let mut lists = serde_json::Map::new();
    for (key, heading, bytes, top) in o.lists(ROWS) {
        lists.insert(
            key.into(),
            serde_json::json!({ "title": heading, "bytes": bytes, "approximate": top.approximate, "rows": top.rows }),
        );
    }
    serde_json::json!({
        "title": title,
        "types": o.type_info,
        "lists": lists,
        "timeline": { "width_s": o.timeline.width_ns as f64 / 1e9, "points": o.timeline.points().iter().map(|(t, n)| (t / 1_000_000, *n)).collect::<Vec<_>>() },
        "graph": graph(o),
        "damaged": o.damaged,
        "problems": o.problems,
    })
}

/// The busiest hosts and the conversations among them.
fn graph(o: &Overview) -> serde_json::Value {
    let hosts: Vec<(String, u64, u64)> = o.talkers.top_by_bytes(GRAPH_HOSTS);
    let index: HashMap<&str, usize> = hosts.iter().enumerate().map(|(i, h)| (h.0.as_str(), i)).collect();
    let links: Vec<serde_json::Value> = o
        .conversations
        .top_by_bytes(10 * GRAPH_HOSTS)
        .into_iter()
        .filter_map(|(pair, _, bytes)| {
            let (a, b) = pair.split_once(" <-> ")?;
            (index.contains_key(a) && index.contains_key(b) && a != b)
                .then(|| serde_json::json!({ "source": a, "target": b, "value": bytes }))
        })
        .collect();
    let nodes: Vec<serde_json::Value> =
        hosts.iter().map(|(h, _, bytes)| serde_json::json!({ "name": h, "value": bytes })).collect();
    serde_json::json!({ "nodes": nodes, "links": links })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const CSS: &str = r#"
body { font: 14px system-ui, sans-serif; margin: 16px 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.chart { width: 100%; height: 380px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
th { cursor: pointer; background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
input.filter { margin: 4px 0; width: 40%; }
#errors { color: #b00; white-space: pre-wrap; }
.note { color: #666; font-size: 12px; }
"#;

/// Records script errors in the page (a headless test reads them from the DOM).
const ERRORS: &str = r#"
window.netcapErrors = [];
window.addEventListener('error', function (e) {
  window.netcapErrors.push(String(e.message));
  var p = document.getElementById('errors'); if (p) p.textContent = window.netcapErrors.join('\n');
});
"#;

const APP: &str = r#"
(function () {
  var D = JSON.parse(document.getElementById('data').textContent);
  var body = document.body;
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(n) { return Number(n).toLocaleString('en-US'); }
  body.appendChild(el('h1', {}, 'netcap report: ' + D.title));
  body.appendChild(el('pre', { id: 'errors' }));
  window.netcapErrors.length && (document.getElementById('errors').textContent = window.netcapErrors.join('\n'));
  var charts = [];
  function chart(id, title, option) {
    body.appendChild(el('h2', {}, title));
    var div = el('div', { id: id, 'class': 'chart' });
    body.appendChild(div);
    var c = echarts.init(div, null, { renderer: 'svg' });
    option.animation = false;
    option.tooltip = option.tooltip || {};
    c.setOption(option);
    charts.push([div, c]);
  }
  function table(id, title, columns, rows, note) {
    body.appendChild(el('h2', {}, title));
    if (note) body.appendChild(el('div', { 'class': 'note' }, note));
    var filter = el('input', { 'class': 'filter', placeholder: 'filter rows', id: id + '-filter' });
    body.appendChild(filter);
    var t = el('table', { id: id });
    var head = el('tr');
    columns.forEach(function (c, i) {
      var th = el('th', {}, c[0]);
      th.addEventListener('click', function () { sortBy(t, i, c[1]); });
      head.appendChild(th);
    });
    t.appendChild(head);
    rows.forEach(function (r) {
      var tr = el('tr');
      r.forEach(function (v, i) { tr.appendChild(el('td', columns[i][1] ? { 'class': 'n' } : {}, columns[i][1] ? fmt(v) : String(v))); });
      tr.dataset.values = JSON.stringify(r);
      t.appendChild(tr);
    });
    filter.addEventListener('input', function () {
      var q = filter.value.toLowerCase();
      Array.prototype.forEach.call(t.querySelectorAll('tr[data-values]'), function (tr) {
        tr.style.display = tr.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
      });
    });
    body.appendChild(t);
  }
  function sortBy(t, i, numeric) {
    var rows = Array.prototype.slice.call(t.querySelectorAll('tr[data-values]'));
    var dir = t.dataset.sorted === String(i) ? -1 : 1;
    t.dataset.sorted = dir === 1 ? String(i) : '';
    rows.sort(function (a, b) {
      var x = JSON.parse(a.dataset.values)[i], y = JSON.parse(b.dataset.values)[i];
      return (numeric ? x - y : String(x).localeCompare(String(y))) * -dir;
    });
    rows.forEach(function (r) { t.appendChild(r); });
  }
  function list(key) { return D.lists[key] || { rows: [] }; }
  function note(key) { return list(key).approximate ? 'approximate: more distinct keys than kept, counts are lower bounds' : ''; }

  // Records by decoder and type.
  var byDecoder = {};
  D.types.forEach(function (t) { (byDecoder[t.decoder] = byDecoder[t.decoder] || []).push({ name: t.name, value: t.records }); });
  chart('hierarchy', 'Protocol hierarchy: records by decoder and type', {
    series: [{ type: 'sunburst', radius: ['12%', '95%'], label: { minAngle: 6 },
      data: Object.keys(byDecoder).sort().map(function (d) { return { name: d, children: byDecoder[d] }; }) }]
  });
  chart('applications', 'Application protocols: bytes of connections', {
    series: [{ type: 'treemap', roam: false, nodeClick: false, breadcrumb: { show: false },
      data: list('applications').rows.map(function (r) { return { name: r.key || '(none)', value: r.bytes }; }) }]
  });
  var talkers = list('talkers').rows.slice(0, 15);
  chart('talkers-chart', 'Top talkers (bytes, both directions)', {
    grid: { left: 16, right: 32, containLabel: true }, xAxis: { type: 'value' },
    yAxis: { type: 'category', inverse: true, data: talkers.map(function (r) { return r.key; }) },
    series: [{ type: 'bar', data: talkers.map(function (r) { return r.bytes; }) }]
  });
  chart('timeline', 'Connections over time (per ' + D.timeline.width_s + ' s)', {
    xAxis: { type: 'time' }, yAxis: { type: 'value' },
    series: [{ type: 'line', showSymbol: false, step: 'end', data: D.timeline.points }]
  });
  chart('graph', 'Host communication graph (the busiest hosts)', {
    series: [{ type: 'graph', layout: 'circular', circular: { rotateLabel: true }, roam: false, label: { show: true, fontSize: 10 },
      data: D.graph.nodes.map(function (n) { return { name: n.name, value: n.value, symbolSize: 8 }; }),
      links: D.graph.links, lineStyle: { opacity: 0.5, width: 1 } }]
  });

  [['talkers', 'Top talkers', true], ['conversations', 'Top conversations', true], ['applications', 'Application protocols', true],
   ['dns_names', 'DNS names', false], ['tls', 'TLS server names with JA3 and JA4', false], ['http_hosts', 'HTTP hosts', false],
   ['user_agents', 'HTTP user agents', false], ['ssh_software', 'SSH software', false], ['dhcp_hosts', 'DHCP host names', false],
   ['labels', 'Labelled records (netcap label)', false]].forEach(function (s) {
    var rows = list(s[0]).rows.map(function (r) { return s[2] ? [r.key, r.count, r.bytes] : [r.key, r.count]; });
    var cols = s[2] ? [['key', false], ['connections', true], ['bytes', true]] : [['key', false], ['count', true]];
    table('table-' + s[0], s[1], cols, rows, note(s[0]));
  });
  table('table-types', 'Record types', [['type', false], ['decoder', false], ['records', true], ['fields', false]],
    D.types.map(function (t) { return [t.name, t.decoder, t.records, t.fields.join(', ')]; }));
  table('table-problems', 'Errors, unknown packets and decoder faults', [['what', false], ['kind', false], ['count', true]],
    D.problems, D.problems.length ? '' : 'none recorded (or the directory has no .netcap.summary.json)');
  if (D.damaged.length) table('table-damaged', 'Damaged record files', [['file', false]], D.damaged.map(function (d) { return [d]; }));

  charts.forEach(function (c) {
    var drawn = c[0].querySelectorAll('svg path, svg rect, svg text').length > 0;
    c[0].setAttribute('data-drawn', drawn ? 'yes' : 'no');
  });
  body.setAttribute('data-ready', 'yes');
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn the_vendored_library_is_the_one_named_in_its_source_file() {
        let digest = sha2::Sha256::digest(ECHARTS.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let source = include_str!("../assets/echarts/SOURCE.md");
        assert!(source.contains(&hex), "host/assets/echarts/echarts.min.js is not the file SOURCE.md names ({hex})");
    }

    #[test]
    fn data_cannot_close_the_script_element() {
        let mut o = Overview::default();
        o.dns_names.add("</script><script>alert(1)</script>".into(), 0);
        let page = render(&o, "t</script>");
        let data = page.split("<script id=\"data\" type=\"application/json\">").nth(1).unwrap();
        let data = data.split("</script>").next().unwrap();
        assert!(data.contains("<\\/script>") && !data.contains("</script"), "{data}");
        assert!(page.contains("<title>netcap report: t&lt;/script&gt;</title>"));
    }
}
