//! `netcap report` rendered in headless Chromium (Debian's `chromium`): no script errors, every
//! chart drew (SVG paths), and the tables show the same aggregates as this test computes from
//! `netcap dump --json` (`overview::expected`). The screenshot in the README is the one this test
//! takes (`target/tmp/report.png`).

use netcap_tests::{Shared, TempDir, files_with, netcap, shared_capture};
use std::path::Path;
use std::process::Command;

/// Rows of each table in the report.
const ROWS: usize = 50;
/// The charts the report draws.
const CHARTS: [&str; 5] = ["hierarchy", "applications", "talkers-chart", "timeline", "graph"];

fn chromium() -> Option<&'static str> {
    let found = Command::new("chromium").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("NETCAP_REQUIRE_TSHARK").is_some() {
        panic!("chromium is missing (cargo xtask setup installs it)");
    }
    found.then_some("chromium")
}

/// The page's DOM after its scripts ran.
fn dom(browser: &str, page: &Path) -> String {
    let o = Command::new(browser)
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "chromium: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The rows of table `id`: each row's `data-values` JSON array.
fn table_rows(dom: &str, id: &str) -> Vec<Vec<serde_json::Value>> {
    let start = dom.find(&format!("<table id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id}"));
    let end = start + dom[start..].find("</table>").expect("table end");
    dom[start..end]
        .split("data-values=\"")
        .skip(1)
        .map(|r| {
            let raw = &r[..r.find('"').expect("attribute end")];
            let json = raw.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
            serde_json::from_str(&json).expect("row values")
        })
        .collect()
}

/// The `(kind, count)` lines under the summary line starting with `heading`.
fn summary_section(summary: &str, heading: &str) -> Vec<(String, u64)> {
    summary
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let l = l.trim();
            let (kind, n) = l.rsplit_once(' ')?;
            Some((kind.trim_end().to_string(), n.replace(',', "").parse().ok()?))
        })
        .collect()
}

#[test]
fn the_report_draws_every_chart_and_shows_the_dumped_aggregates() {
    let Some(browser) = chromium() else {
        eprintln!("notice: chromium missing, report test skipped");
        return;
    };
    let tmp = TempDir::new("report");
    let mut checked = 0;
    for proto in ["http", "dns", "tls"] {
        let Some(f) = files_with(&[proto]).into_iter().next() else { continue };
        let dir = &shared_capture(&f, Shared::Default).dir;
        let page = tmp.path().join(format!("{proto}.html"));
        let o = netcap(&["report", dir.to_str().expect("utf-8"), "-o", page.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::metadata(&page).expect("report").len() < 20 << 20, "report over 20 MB");
        let d = dom(browser, &page);
        assert!(d.contains("<body data-ready=\"yes\""), "the page's script did not finish");
        assert!(
            d.contains("<pre id=\"errors\"></pre>"),
            "script errors: {}",
            &d[d.find("<pre id=\"errors\">").unwrap_or(0)..][..400]
        );
        for c in CHARTS {
            let at = d.find(&format!("<div id=\"{c}\"")).unwrap_or_else(|| panic!("{proto}: no chart {c}"));
            let tag = &d[at..at + d[at..].find('>').expect("tag end")];
            assert!(tag.contains("data-drawn=\"yes\""), "{proto}: chart {c} not drawn: {tag}");
        }
        // Errors: the capture's own summary on stderr, kind by kind.
        let run = &shared_capture(&f, Shared::Default).output;
        let mut want_errors = summary_section(&String::from_utf8_lossy(&run.stderr), "errors: ");
        let mut got_errors: Vec<(String, u64)> = table_rows(&d, "table-problems")
            .into_iter()
            .filter(|r| r[0] == "errors")
            .map(|r| (r[1].as_str().unwrap_or_default().to_string(), r[2].as_u64().unwrap_or(0)))
            .collect();
        want_errors.sort();
        got_errors.sort();
        assert_eq!(got_errors, want_errors, "{}: errors", f.display());
        checked += got_errors.len();
        for (list, want) in crate::overview::expected(dir, ROWS) {
            let got: Vec<(String, u64, u64)> = table_rows(&d, &format!("table-{list}"))
                .into_iter()
                .map(|r| {
                    let n = |i: usize| r.get(i).and_then(serde_json::Value::as_u64).unwrap_or(0);
                    (r[0].as_str().unwrap_or_default().to_string(), n(1), n(2))
                })
                .collect();
            let want: Vec<(String, u64, u64)> = match list {
                "talkers" | "conversations" | "applications" => want,
                _ => want.into_iter().map(|(k, c, _)| (k, c, 0)).collect(),
            };
            assert_eq!(got, want, "{}: table {list}", f.display());
            checked += got.len();
        }
    }
    assert!(netcap_tests::corpus().is_none() || checked > 60, "only {checked} rows checked");
    // The README's screenshot.
    let Some(f) = files_with(&["http"]).into_iter().next() else { return };
    let page = tmp.path().join("http.html");
    let shot = netcap_tests::target_dir().join("tmp").join("report.png");
    let o = Command::new(browser)
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"])
        .args(["--virtual-time-budget=5000", "--window-size=1280,2600"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 50_000, "screenshot of {} bytes", png.len());
}
