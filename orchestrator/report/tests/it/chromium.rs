//! The HTML page as a browser renders it: headless Chromium loads the file, runs the page's
//! script, and the tests read the rendered DOM (`--dump-dom`) and take a screenshot. These tests
//! need Chromium (`scripts/setup` installs `chromium-headless-shell`); without it they fail.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stagenet_report::html;

use crate::fixture::{empty_report, report, report_with_replay_and_stress};
use crate::html_page::embedded_json;

/// Per run of the browser.
const TIMEOUT: Duration = Duration::from_secs(60);

fn find_chromium() -> PathBuf {
	stagenet_test_support::chromium().unwrap_or_else(|| {
		panic!(
			"{}",
			stagenet_test_support::Service::Chromium
				.check()
				.expect_err("no Chromium")
		)
	})
}

/// A directory under the target directory for one test, emptied first and kept afterwards so
/// that the page and the screenshot can be looked at.
fn scratch(name: &str) -> PathBuf {
	let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
		.join("stagenet-report")
		.join(name);
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir)
		.unwrap_or_else(|e| panic!("cannot create `{}`: {e}", dir.display()));
	dir
}

/// What one run of the browser printed.
struct Run {
	stdout: String,
	stderr: String,
}

/// Runs headless Chromium on the file `page` with `extra` flags, as root too (no sandbox), with
/// a profile of its own, and kills it after [`TIMEOUT`].
fn chromium(dir: &Path, page: &Path, extra: &[String]) -> Run {
	let exe = find_chromium();
	let out_path = dir.join("chromium.stdout");
	let err_path = dir.join("chromium.stderr");
	let create = |p: &Path| File::create(p).unwrap_or_else(|e| panic!("`{}`: {e}", p.display()));
	let url = format!("file://{}", page.display()).replace(' ', "%20");
	let mut child = Command::new(&exe)
		.args([
			"--headless",
			"--no-sandbox",
			"--disable-gpu",
			"--disable-dev-shm-usage",
			"--no-first-run",
			"--no-default-browser-check",
			"--disable-extensions",
			"--hide-scrollbars",
			"--force-device-scale-factor=1",
			"--enable-logging=stderr",
			"--v=0",
		])
		.arg(format!("--user-data-dir={}", dir.join("profile").display()))
		.args(extra)
		.arg(&url)
		.stdin(Stdio::null())
		.stdout(create(&out_path))
		.stderr(create(&err_path))
		.spawn()
		.unwrap_or_else(|e| {
			panic!(
				"cannot start `{}`: {e} (hint: run scripts/setup to install Chromium)",
				exe.display()
			)
		});
	let deadline = Instant::now() + TIMEOUT;
	let status = loop {
		match child.try_wait() {
			Ok(Some(status)) => break status,
			Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
			Ok(None) => {
				let _ = child.kill();
				let _ = child.wait();
				panic!(
					"`{}` did not finish within {TIMEOUT:?} on {url}",
					exe.display()
				);
			}
			Err(e) => panic!("waiting for `{}`: {e}", exe.display()),
		}
	};
	// The profile is scratch of the browser's own (tens of MB); the page and output stay.
	let _ = std::fs::remove_dir_all(dir.join("profile"));
	let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
	let run = Run {
		stdout: read(&out_path),
		stderr: read(&err_path),
	};
	assert!(
		status.success(),
		"`{}` failed with {status}:\n{}",
		exe.display(),
		run.stderr
	);
	run
}

/// Writes `page` into a fresh scratch directory and returns the rendered DOM.
fn rendered_dom(name: &str, page: &str) -> (PathBuf, Run) {
	let dir = scratch(name);
	let file = dir.join("report.html");
	std::fs::write(&file, page).unwrap_or_else(|e| panic!("`{}`: {e}", file.display()));
	let run = chromium(&dir, &file, &["--dump-dom".to_owned()]);
	std::fs::write(dir.join("rendered.html"), &run.stdout).unwrap_or_default();
	(dir, run)
}

/// The serialized element that starts with `open` (up to the first `</tag>`), parsed as XML:
/// the charts and tables are well-formed in Chromium's serialization.
fn element(dom: &str, open: &str, tag: &str) -> String {
	let start = dom
		.find(open)
		.unwrap_or_else(|| panic!("the rendered page has no `{open}`"));
	let close = format!("</{tag}>");
	let len = dom[start..]
		.find(&close)
		.unwrap_or_else(|| panic!("`{open}` is not closed"));
	dom[start..start + len + close.len()].to_owned()
}

fn parse(xml: &str) -> roxmltree::Document<'_> {
	roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"))
}

fn has_class(n: &roxmltree::Node<'_, '_>, class: &str) -> bool {
	n.attribute("class")
		.is_some_and(|c| c.split_whitespace().any(|c| c == class))
}

/// The points of an SVG path made of `M` and `L` commands.
fn points(d: &str) -> Vec<(f64, f64)> {
	d.split(['M', 'L'])
		.filter(|s| !s.is_empty())
		.map(|p| {
			let mut it = p.split_whitespace().map(|v| {
				v.parse::<f64>()
					.unwrap_or_else(|e| panic!("`{v}` in `{d}`: {e}"))
			});
			(it.next().unwrap_or(f64::NAN), it.next().unwrap_or(f64::NAN))
		})
		.collect()
}

fn assert_rendered_ok(dom: &str, stderr: &str) {
	let body = element(dom, "<body", "body");
	let body_tag = &body[..body.find('>').unwrap_or(0)];
	assert!(
		body_tag.contains("data-rendered=\"ok\""),
		"the page's script did not finish: {body_tag}\n{}",
		element(dom, "<pre id=\"render-errors\"", "pre")
	);
	assert!(dom.contains("<pre id=\"render-errors\" hidden=\"\"></pre>"));
	for bad in ["Uncaught", "Refused to", "Content Security Policy"] {
		assert!(!stderr.contains(bad), "the console says `{bad}`:\n{stderr}");
	}
}

#[test]
fn needs_chromium_html_page_draws_charts_markers_and_gates() {
	stagenet_test_support::require!(Chromium);
	let r = report_with_replay_and_stress();
	let (dir, run) = rendered_dom("charts", &html(&r));
	let dom = &run.stdout;
	assert_rendered_ok(dom, &run.stderr);

	// Weight: one line per class and the normal-class limit, 40 points each.
	let weight_svg = element(dom, "<svg id=\"chart-weight\"", "svg");
	let weight = parse(&weight_svg);
	let path = |doc: &roxmltree::Document<'_>, series: &str| -> Vec<(f64, f64)> {
		let node = doc
			.descendants()
			.find(|n| n.has_tag_name("path") && n.attribute("data-series") == Some(series))
			.unwrap_or_else(|| panic!("no series `{series}`"));
		let d = node.attribute("d").unwrap_or("");
		assert!(d.starts_with('M'), "series `{series}` has d=`{d}`");
		points(d)
	};
	for series in ["normal", "operational", "mandatory"] {
		let n = weight
			.descendants()
			.filter(|n| {
				n.has_tag_name("path")
					&& has_class(n, "series")
					&& n.attribute("data-series") == Some(series)
			})
			.count();
		assert_eq!(n, 1, "one path for `{series}`");
		assert_eq!(path(&weight, series).len(), 40, "`{series}`");
	}
	let limit = path(&weight, "normal-limit");
	assert_eq!(limit.len(), 40);
	let normal = path(&weight, "normal");
	let mandatory = path(&weight, "mandatory");
	// y grows downwards: the migration block (#20) is the mandatory peak, and the 75 % limit
	// lies above every normal point.
	let peak = mandatory
		.iter()
		.enumerate()
		.min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
		.map(|(i, _)| i);
	assert_eq!(peak, Some(19), "the mandatory peak is the 20th block");
	assert!(normal.iter().zip(&limit).all(|(n, l)| l.1 < n.1));

	// Block time: 39 intervals; finality lag: 40 blocks.
	let times = parse_owned(element(dom, "<svg id=\"chart-block-time\"", "svg"));
	let finality = parse_owned(element(dom, "<svg id=\"chart-finality\"", "svg"));
	assert_eq!(path(&times.doc(), "block-time").len(), 39);
	assert_eq!(path(&finality.doc(), "finality-lag").len(), 40);

	// Markers on every chart: the upgrade at #20, the findings at #23 (two panics) and #24.
	for (svg, x_of) in [
		(weight_svg.clone(), normal.clone()),
		(times.xml.clone(), path(&times.doc(), "block-time")),
		(finality.xml.clone(), path(&finality.doc(), "finality-lag")),
	] {
		let doc = parse(&svg);
		let upgrades: Vec<_> = doc
			.descendants()
			.filter(|n| has_class(n, "marker") && has_class(n, "upgrade") && n.has_tag_name("line"))
			.collect();
		assert_eq!(upgrades.len(), 1);
		assert_eq!(upgrades[0].attribute("data-block"), Some("20"));
		let label = doc
			.descendants()
			.find(|n| has_class(n, "marker-label"))
			.and_then(|n| n.text());
		assert_eq!(label, Some("upgrade → stagenet-test 101"));
		// The block-time series starts at #2, the others at #1.
		let first = if x_of.len() == 39 { 2 } else { 1 };
		let x_at = |block: usize| x_of[block - first].0;
		let x1: f64 = upgrades[0]
			.attribute("x1")
			.and_then(|v| v.parse().ok())
			.unwrap_or(f64::NAN);
		assert!(
			(x1 - x_at(20)).abs() < 0.11,
			"upgrade marker at x={x1}, block #20 at {}",
			x_at(20)
		);

		let findings: Vec<_> = doc
			.descendants()
			.filter(|n| has_class(n, "marker") && has_class(n, "finding"))
			.collect();
		let at = |kind: &str, block: &str| {
			findings
				.iter()
				.filter(|n| {
					n.attribute("data-kind") == Some(kind)
						&& n.attribute("data-block") == Some(block)
				})
				.count()
		};
		assert_eq!(at("panic", "23"), 2);
		assert_eq!(at("production-stall", "24"), 1);
		assert_eq!(findings.len(), 3);
		let panic = findings[0];
		let cx: f64 = panic
			.attribute("cx")
			.and_then(|v| v.parse().ok())
			.unwrap_or(f64::NAN);
		assert!((cx - x_at(23)).abs() < 0.11, "finding marker at x={cx}");
		let title = panic
			.children()
			.find(|n| n.has_tag_name("title"))
			.and_then(|n| n.text())
			.unwrap_or("");
		assert!(
			title.starts_with("panic on alice at #23: panicked at 'attempt to subtract"),
			"{title}"
		);

		// Axes and legend.
		let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
		assert!(texts.contains(&"block"), "x axis title");
		assert!(texts.contains(&"#20"), "x tick labels");
		assert!(
			texts.contains(&"upgrade") && texts.contains(&"finding"),
			"legend"
		);
	}
	let legend: Vec<String> = weight
		.descendants()
		.filter(|n| n.has_tag_name("text"))
		.filter_map(|n| n.text().map(str::to_owned))
		.collect();
	assert!(legend.iter().any(|t| t == "normal limit"), "{legend:?}");

	// The server-rendered gates as the browser shows them.
	let gates_xml = element(dom, "<table id=\"gates\"", "table");
	let gates = parse(&gates_xml);
	let rows: Vec<_> = gates
		.descendants()
		.filter(|n| n.has_tag_name("tr") && has_class(n, "gate"))
		.collect();
	assert_eq!(rows.len(), 7);
	let measured = |gate: &str| {
		rows.iter()
			.find(|r| r.attribute("data-gate") == Some(gate))
			.and_then(|r| r.descendants().find(|n| has_class(n, "measured")))
			.and_then(|n| n.text())
			.map(str::to_owned)
	};
	assert_eq!(measured("no-panic").as_deref(), Some("2"));
	assert_eq!(measured("migration-weight").as_deref(), Some("12.0 %"));
	let failed: Vec<_> = rows.iter().filter(|r| has_class(r, "failed")).collect();
	assert_eq!(failed.len(), 1);
	assert_eq!(failed[0].attribute("data-gate"), Some("no-panic"));

	// Findings with their context lines, as text.
	assert!(dom.contains("&lt;wasm&gt; proposal for #23 failed: Runtime panicked &amp; aborted"));

	stress_charts(dom);
	eprintln!("rendered page: {}", dir.join("rendered.html").display());
}

/// The charts of the fixture's stress load (blocks #30 – #34, theoretical maximum 2540).
fn stress_charts(dom: &str) {
	let boxed = parse_owned(element(
		dom,
		"<div class=\"chart-box\" data-chart=\"stress-0\"",
		"div",
	));
	let doc = boxed.doc();
	let svg = doc
		.descendants()
		.find(|n| n.has_tag_name("svg"))
		.expect("the stress chart is drawn");
	assert_eq!(svg.attribute("id"), Some("chart-stress-0"));
	let bars: Vec<_> = svg
		.descendants()
		.filter(|n| n.has_tag_name("rect") && has_class(n, "bar"))
		.collect();
	assert_eq!(bars.len(), 5, "one bar per block");
	let blocks: Vec<&str> = bars
		.iter()
		.filter_map(|b| b.attribute("data-block"))
		.collect();
	assert_eq!(blocks, ["30", "31", "32", "33", "34"]);
	let num = |n: &roxmltree::Node<'_, '_>, a: &str| -> f64 {
		n.attribute(a)
			.and_then(|v| v.parse().ok())
			.unwrap_or(f64::NAN)
	};
	// y grows downwards: #32 (2450) is the tallest bar, #30 (1250) the shortest.
	let tops: Vec<f64> = bars.iter().map(|b| num(b, "y")).collect();
	let tallest = tops
		.iter()
		.enumerate()
		.min_by(|a, b| a.1.total_cmp(b.1))
		.map(|(i, _)| i);
	assert_eq!(tallest, Some(2));
	assert!(bars
		.iter()
		.all(|b| num(b, "height") > 0.0 && num(b, "width") > 0.0));
	let theoretical = svg
		.descendants()
		.find(|n| n.has_tag_name("path") && n.attribute("data-series") == Some("theoretical"))
		.expect("the theoretical maximum");
	assert!(has_class(&theoretical, "limit"));
	let line = points(theoretical.attribute("d").unwrap_or(""));
	assert_eq!(line.len(), 5);
	assert!(
		line.iter().all(|p| (p.1 - line[0].1).abs() < 0.01),
		"horizontal"
	);
	assert!(
		tops.iter().all(|&y| y > line[0].1),
		"every bar below the maximum"
	);
	// No upgrade or finding falls within the load's blocks.
	assert!(!svg.descendants().any(|n| has_class(&n, "marker")));

	let fill = parse_owned(element(dom, "<svg id=\"chart-stress-0-fill\"", "svg"));
	let fill = fill.doc();
	for series in ["normal-fill", "length-fill", "full"] {
		let path = fill
			.descendants()
			.find(|n| n.has_tag_name("path") && n.attribute("data-series") == Some(series))
			.unwrap_or_else(|| panic!("no series `{series}`"));
		assert_eq!(
			points(path.attribute("d").unwrap_or("")).len(),
			5,
			"`{series}`"
		);
	}
	let times = parse_owned(element(dom, "<svg id=\"chart-stress-0-block-time\"", "svg"));
	let times = times.doc();
	let path = times
		.descendants()
		.find(|n| n.has_tag_name("path") && n.attribute("data-series") == Some("block-time"))
		.expect("block time during the load");
	assert_eq!(points(path.attribute("d").unwrap_or("")).len(), 5);
}

/// A parsed fragment that owns its text.
struct Owned {
	xml: String,
}

impl Owned {
	fn doc(&self) -> roxmltree::Document<'_> {
		parse(&self.xml)
	}
}

fn parse_owned(xml: String) -> Owned {
	parse(&xml);
	Owned { xml }
}

#[test]
fn needs_chromium_html_page_screenshot() {
	stagenet_test_support::require!(Chromium);
	let dir = scratch("screenshot");
	let file = dir.join("report.html");
	std::fs::write(&file, html(&report_with_replay_and_stress())).unwrap_or_else(|e| panic!("{e}"));
	let png = dir.join("report.png");
	chromium(
		&dir,
		&file,
		&[
			format!("--screenshot={}", png.display()),
			"--window-size=1280,6000".to_owned(),
		],
	);
	let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("`{}`: {e}", png.display()));
	assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
	assert!(bytes.len() > 20_000, "a page with charts, not a blank one");
	eprintln!("screenshot: {}", png.display());
}

#[test]
fn needs_chromium_html_page_without_blocks_renders() {
	stagenet_test_support::require!(Chromium);
	let (_, run) = rendered_dom("empty", &html(&empty_report()));
	assert_rendered_ok(&run.stdout, &run.stderr);
	assert!(run.stdout.contains("no blocks recorded"));
	assert!(!run.stdout.contains("<svg id="), "no chart without blocks");
}

#[test]
fn needs_chromium_html_page_reports_script_errors() {
	stagenet_test_support::require!(Chromium);
	// The check above means something only if a failing script is noticed: break the data.
	let page = html(&report());
	let data = embedded_json(&page).to_owned();
	let broken = page.replacen(&data, "{not json", 1);
	let (_, run) = rendered_dom("broken", &broken);
	let dom = &run.stdout;
	assert!(dom.contains("data-rendered=\"error\""), "{dom}");
	let errors = element(dom, "<pre id=\"render-errors\"", "pre");
	assert!(errors.contains("the charts could not be drawn"), "{errors}");
	assert!(!errors.contains("hidden"), "{errors}");
}
