//! The HTML page without a browser: self-contained, escaped, with the report embedded.

use stagenet_report::{html, parse_json};

use crate::fixture::{empty_report, report, report_with_replay_and_stress};

/// The text of the embedded `#report-data` script.
pub fn embedded_json(page: &str) -> &str {
	let open = "<script type=\"application/json\" id=\"report-data\">";
	let start = page.find(open).expect("the page embeds the report") + open.len();
	let len = page[start..]
		.find("</script>")
		.expect("the script is closed");
	&page[start..start + len]
}

#[test]
fn the_page_is_self_contained() {
	let page = html(&report());
	assert!(page.contains(
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src \
		 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
	));
	assert!(!page.contains(" src="), "nothing is loaded from anywhere");
	assert!(!page.contains("url("));
	assert!(!page.contains("@import"));
	for (i, _) in page.match_indices(" href=\"") {
		assert!(
			page[i + 7..].starts_with('#'),
			"only in-page links: {}",
			&page[i..i + 40]
		);
	}
	assert_eq!(
		page.matches("<script").count(),
		2,
		"the data and the page's own script"
	);
	assert_eq!(page.matches("<style>").count(), 1);
}

#[test]
fn the_embedded_report_reads_back_and_cannot_close_its_script() {
	let mut r = report();
	r.findings[0].message = "</script><script>alert(1)</script><!-- & \u{2028}".to_owned();
	let page = html(&r);
	let data = embedded_json(&page);
	assert!(!data.contains("</"), "{data}");
	assert!(!data.contains('<'));
	assert_eq!(parse_json(data).ok(), Some(r));
	// The server-rendered finding is escaped too.
	assert!(page.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert!(!page.contains("<script>alert"));
}

#[test]
fn the_page_renders_every_section_escaped() {
	let page = html(&report());
	for id in [
		"id=\"gates\"",
		"id=\"ledger-summary\"",
		"data-chart=\"weight\"",
		"data-chart=\"block-time\"",
		"data-chart=\"finality\"",
		"id=\"finding-0\"",
		"id=\"upgrade-0\"",
		"id=\"diff-0\"",
		"id=\"steps-table\"",
		"id=\"nodes-table\"",
		"id=\"failed-extrinsics\"",
		"id=\"render-errors\"",
	] {
		assert!(page.contains(id), "missing {id}");
	}
	assert!(page.contains("TotalStake == sum(Stake) &amp; no &lt;orphan&gt; stake"));
	assert!(page.contains("&lt;wasm&gt; proposal for #23 failed: Runtime panicked &amp; aborted"));
	assert!(!page.contains('\u{1b}'), "log colors are stripped");
	assert!(
		page.contains("<tr class=\"gate failed\" data-gate=\"no-panic\" data-passed=\"false\">")
	);
}

#[test]
fn a_run_without_blocks_says_so() {
	let page = html(&empty_report());
	assert!(page.contains("no blocks recorded"));
	assert!(!page.contains("data-chart="));
	assert!(page.contains("did not answer on `ws://127.0.0.1:9944` within 30 s"));
}

#[test]
fn replays_and_stresses_have_sections_only_when_present() {
	let plain = html(&report());
	for absent in [
		"id=\"replays\"",
		"id=\"stresses\"",
		"href=\"#replays\"",
		"href=\"#stresses\"",
		"data-chart=\"stress-",
	] {
		assert!(!plain.contains(absent), "unexpected {absent}");
	}
	let page = html(&report_with_replay_and_stress());
	for id in [
		"<section id=\"replays\">",
		"<article class=\"replay\" id=\"replay-0\" data-diverged=\"2\">",
		"<table class=\"divergences\" id=\"divergences-0\">",
		"<tr class=\"kind-group\" data-kind=\"logic-change\">",
		"<tr class=\"kind-group\" data-kind=\"missing-call\">",
		"id=\"replay-calls-0\"",
		"<section id=\"stresses\">",
		"<article class=\"stress\" id=\"stress-0\" data-limit=\"weight\">",
		"<p class=\"limit reached\"><strong>limit: weight</strong> — normal-class weight",
		"data-chart=\"stress-0\"",
		"data-chart=\"stress-0-fill\"",
		"data-chart=\"stress-0-block-time\"",
		"id=\"stress-calls-0\"",
		"href=\"#replays\"",
		"href=\"#stresses\"",
	] {
		assert!(page.contains(id), "missing {id}");
	}
	// Logic change before missing call (the kinds' order), whatever the captured order.
	let logic = page
		.find("data-kind=\"logic-change\"")
		.unwrap_or(usize::MAX);
	let missing = page.find("data-kind=\"missing-call\"").unwrap_or(0);
	assert!(logic < missing);
	assert!(page.contains("stake | balance checks changed &lt;in 101&gt;"));
	assert!(page.contains("= <strong class=\"of-theoretical\">96.5 %</strong> of the theoretical"));
	assert_eq!(
		page.matches("<script").count(),
		2,
		"the data and the page's own script, still"
	);
}
