//! Terminal, Markdown, JUnit and JSON, pinned with snapshots and checked for structure.

use stagenet_report::{
	json, junit, markdown, parse_json, render, terminal, Format, LedgerSummary, ReportError,
};
use stagenet_store::REPORT_SCHEMA_VERSION;

use crate::fixture::{empty_report, report, report_with_replay_and_stress};

/// Removes ANSI SGR sequences (`ESC [ … m`).
fn strip_ansi(s: &str) -> String {
	let mut out = String::new();
	let mut chars = s.chars();
	while let Some(c) = chars.next() {
		if c == '\u{1b}' {
			for c in chars.by_ref() {
				if c == 'm' {
					break;
				}
			}
		} else {
			out.push(c);
		}
	}
	out
}

#[test]
fn terminal_report() {
	insta::assert_snapshot!(terminal(&report(), false));
}

#[test]
fn terminal_report_of_a_run_without_blocks() {
	insta::assert_snapshot!(terminal(&empty_report(), false));
}

#[test]
fn terminal_color_only_adds_ansi_styles() {
	let r = report();
	let plain = terminal(&r, false);
	let color = terminal(&r, true);
	assert!(color.contains("\u{1b}[1;31mFAIL\u{1b}[0m"), "{color}");
	assert_eq!(strip_ansi(&color), plain);
	// The log lines' own color codes are stripped, not passed to the terminal.
	assert!(!plain.contains('\u{1b}'), "{plain}");
	assert!(plain.chars().all(|c| c == '\n' || !c.is_control()));
}

#[test]
fn ledger_summary_of_the_fixture() {
	let s = LedgerSummary::of(&report());
	assert_eq!(s.blocks, 40);
	assert_eq!(s.range, Some((1, 40)));
	assert_eq!(s.spec_versions, vec![100, 101]);
	assert_eq!(
		s.max_normal_percent.map(|m| (m.block, m.value)),
		Some((6, 2.8))
	);
	assert_eq!(
		s.max_mandatory_percent.map(|m| (m.block, m.value)),
		Some((20, 12.25))
	);
	assert_eq!(s.block_time_p50_ms, Some(12_000));
	assert_eq!(s.block_time_p95_ms, Some(12_400));
	assert_eq!(
		s.block_time_max_ms.map(|m| (m.block, m.value)),
		Some((24, 24_000))
	);
	assert_eq!(
		s.max_finality_lag.map(|m| (m.block, m.value)),
		Some((24, 4))
	);
	assert_eq!(
		s.max_authoring_ms.map(|m| (m.block, m.value)),
		Some((20, 380.25))
	);
	assert_eq!(s.failed_extrinsics, 1);
}

#[test]
fn markdown_report() {
	insta::assert_snapshot!(markdown(&report()));
}

#[test]
fn markdown_tables_keep_their_columns() {
	let md = markdown(&report());
	// Every row of a table has as many unescaped `|` as its header.
	let mut header_pipes = None;
	for line in md.lines() {
		if !line.starts_with('|') {
			header_pipes = None;
			continue;
		}
		let pipes = line.replace("\\|", "").matches('|').count();
		match header_pipes {
			None => header_pipes = Some(pipes),
			Some(n) => assert_eq!(pipes, n, "row with a stray `|`: {line}"),
		}
	}
	assert!(md.contains("4200 → 4312 \\| +112"), "{md}");
	// `#23` would link to issue 23 on GitHub.
	assert!(
		md.contains("findings #&#8288;0 (alice, #&#8288;23)"),
		"{md}"
	);

	let mut r = report();
	r.gates[0].detail = Some("<b>x</b> | y_z".to_owned());
	r.gates[0].name = "a|b".to_owned();
	let md = markdown(&r);
	assert!(
		md.contains("| ❌ | `a\\|b` | = 0 | **2** | &lt;b&gt;x&lt;/b&gt; \\| y\\_z |"),
		"{md}"
	);
}

#[test]
fn junit_report() {
	insta::assert_snapshot!(junit(&report()));
}

#[test]
fn junit_is_well_formed_with_one_case_per_gate() {
	let r = report();
	let xml = junit(&r);
	let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
	let suite = doc
		.descendants()
		.find(|n| n.has_tag_name("testsuite"))
		.expect("a testsuite");
	assert_eq!(suite.attribute("name"), Some("upgrade-ok-with-panic"));
	assert_eq!(suite.attribute("tests"), Some("7"));
	assert_eq!(suite.attribute("failures"), Some("1"));
	assert_eq!(suite.attribute("errors"), Some("0"));
	let props: Vec<(&str, &str)> = suite
		.descendants()
		.filter(|n| n.has_tag_name("property"))
		.map(|n| {
			(
				n.attribute("name").unwrap_or(""),
				n.attribute("value").unwrap_or(""),
			)
		})
		.collect();
	assert!(props.contains(&("run-id", "20250314-101500-7f3a")));
	assert!(props.contains(&("chain", "stagenet-test")));
	assert!(props.contains(&("genesis", r.run.genesis_hash.as_str())));
	let cases: Vec<_> = suite
		.children()
		.filter(|n| n.has_tag_name("testcase"))
		.collect();
	assert_eq!(cases.len(), r.gates.len());
	for (case, gate) in cases.iter().zip(&r.gates) {
		assert_eq!(case.attribute("name"), Some(gate.name.as_str()));
		assert_eq!(case.attribute("classname"), Some("stagenet.gates"));
		let failure = case.children().find(|n| n.has_tag_name("failure"));
		assert_eq!(failure.is_some(), !gate.passed, "{}", gate.name);
	}
	let failure = cases[0]
		.children()
		.find(|n| n.has_tag_name("failure"))
		.expect("no-panic failed");
	assert_eq!(
		failure.attribute("message"),
		Some("measured 2 vs threshold = 0")
	);
	assert!(failure
		.text()
		.unwrap_or("")
		.contains("detail: findings #0 (alice, #23), #1 (bob, #23)"));
	// The summary's log lines survive escaping, without their color codes.
	let out = suite
		.children()
		.find(|n| n.has_tag_name("system-out"))
		.and_then(|n| n.text())
		.unwrap_or("");
	assert!(out.contains("<wasm> proposal for #23 failed: Runtime panicked & aborted"));
}

#[test]
fn junit_of_an_infrastructure_failure_has_an_error_case() {
	let xml = junit(&empty_report());
	insta::assert_snapshot!(xml);
	let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
	let suite = doc
		.descendants()
		.find(|n| n.has_tag_name("testsuite"))
		.expect("a testsuite");
	// No scenario: the suite is named after the run.
	assert_eq!(suite.attribute("name"), Some("20250314-110000-0b1c"));
	assert_eq!(suite.attribute("errors"), Some("1"));
	let error = suite
		.descendants()
		.find(|n| n.has_tag_name("error"))
		.expect("an error case");
	assert_eq!(error.attribute("type"), Some("infrastructure"));
}

#[test]
fn json_round_trips_with_verdict_and_schema_version() {
	let r = report();
	let text = json(&r);
	let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
	assert_eq!(value["verdict"], "fail");
	assert_eq!(value["exit_code"], 1);
	assert_eq!(value["schema_version"], REPORT_SCHEMA_VERSION);
	assert_eq!(value["blocks"].as_array().map(Vec::len), Some(40));
	let back = parse_json(&text).expect("reads back");
	assert_eq!(back, r);
	let empty = empty_report();
	assert_eq!(parse_json(&json(&empty)).ok(), Some(empty));
}

#[test]
fn json_of_another_schema_version_is_refused_with_a_hint() {
	let mut value: serde_json::Value = serde_json::from_str(&json(&report())).expect("valid JSON");
	value["schema_version"] = serde_json::json!(REPORT_SCHEMA_VERSION + 1);
	let err = parse_json(&value.to_string()).expect_err("another version");
	assert!(err.is_schema_mismatch());
	assert!(err.to_string().contains("(hint: "), "{err}");
	assert!(matches!(
		parse_json("{\"run\": 1}"),
		Err(ReportError::SchemaVersion { found: 0 })
	));
	assert!(matches!(
		parse_json("not json"),
		Err(ReportError::Json { .. })
	));
}

#[test]
fn render_dispatches_every_format() {
	let r = report();
	assert_eq!(render(&r, Format::Terminal), terminal(&r, false));
	assert_eq!(render(&r, Format::Json), json(&r));
	assert_eq!(render(&r, Format::Junit), junit(&r));
	assert_eq!(render(&r, Format::Markdown), markdown(&r));
	assert!(render(&r, Format::Html).starts_with("<!DOCTYPE html>"));
	for f in Format::ALL {
		assert_eq!(Format::parse(f.as_str()).ok(), Some(f));
		assert!(!render(&empty_report(), f).is_empty());
	}
}

#[test]
fn terminal_report_with_replay_and_stress() {
	insta::assert_snapshot!(terminal(&report_with_replay_and_stress(), false));
}

#[test]
fn markdown_report_with_replay_and_stress() {
	insta::assert_snapshot!(markdown(&report_with_replay_and_stress()));
}

#[test]
fn replay_and_stress_sections_only_when_present() {
	let without = report();
	let with = report_with_replay_and_stress();
	fn plain(r: &stagenet_store::RunReport) -> String {
		terminal(r, false)
	}
	let formats: [(&str, fn(&stagenet_store::RunReport) -> String); 3] = [
		("terminal", plain),
		("markdown", markdown),
		("junit", junit),
	];
	for (name, render) in formats {
		let plain = render(&without);
		assert!(!plain.contains("Replays"), "{name}: {plain}");
		assert!(!plain.contains("Stress loads"), "{name}: {plain}");
		let loaded = render(&with);
		assert!(loaded.contains("Replays (1)"), "{name}: {loaded}");
		assert!(loaded.contains("Stress loads (1)"), "{name}: {loaded}");
		assert!(loaded.contains("limit: weight"), "{name}: {loaded}");
	}
	// Colors only add styles to the new sections too.
	assert_eq!(strip_ansi(&terminal(&with, true)), terminal(&with, false));
}

#[test]
fn markdown_divergences_keep_their_columns_and_escape_text() {
	let md = markdown(&report_with_replay_and_stress());
	let mut header_pipes = None;
	for line in md.lines() {
		if !line.starts_with('|') {
			header_pipes = None;
			continue;
		}
		let pipes = line.replace("\\|", "").matches('|').count();
		match header_pipes {
			None => header_pipes = Some(pipes),
			Some(n) => assert_eq!(pipes, n, "row with a stray `|`: {line}"),
		}
	}
	assert!(
		md.contains("stake \\| balance checks changed &lt;in 101&gt;"),
		"{md}"
	);
	assert!(
		md.contains(
			"`stagenet replay --capture captures/finney-4520000.db --only 4520007-3 --fork \
			 ws://127.0.0.1:9944`"
		),
		"{md}"
	);
	assert!(
		md.contains("> ⚠️ **limit: weight** — normal-class weight"),
		"{md}"
	);
}

#[test]
fn junit_lists_divergences_in_its_output_without_new_cases() {
	let r = report_with_replay_and_stress();
	let xml = junit(&r);
	let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
	let suite = doc
		.descendants()
		.find(|n| n.has_tag_name("testsuite"))
		.expect("a testsuite");
	assert_eq!(suite.attribute("tests"), Some("7"));
	let out = suite
		.children()
		.find(|n| n.has_tag_name("system-out"))
		.and_then(|n| n.text())
		.unwrap_or("");
	assert!(out.contains("logic-change (1)"), "{out}");
	assert!(out.contains("SubtensorModule.remove_stake"), "{out}");
	assert!(
		out.contains("success → SubtensorModule::NotEnoughStakeToWithdraw"),
		"{out}"
	);
	assert!(
		out.contains("stake | balance checks changed <in 101>"),
		"{out}"
	);
	assert!(out.contains("limit: weight — normal-class weight"), "{out}");
}

#[test]
fn json_round_trips_replays_and_stresses() {
	let r = report_with_replay_and_stress();
	let text = json(&r);
	let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
	assert_eq!(
		value["replays"][0]["divergences"][1]["kind"],
		"missing-call"
	);
	assert_eq!(value["stresses"][0]["limit"], "weight");
	assert_eq!(parse_json(&text).ok(), Some(r));
}

#[test]
fn json_written_before_replays_and_stresses_still_reads() {
	let mut value: serde_json::Value = serde_json::from_str(&json(&report())).expect("valid JSON");
	let object = value.as_object_mut().expect("an object");
	assert!(object.remove("replays").is_some());
	assert!(object.remove("stresses").is_some());
	let back = parse_json(&value.to_string()).expect("an older report reads");
	assert_eq!(back.schema_version, REPORT_SCHEMA_VERSION);
	assert_eq!(back.replays, vec![]);
	assert_eq!(back.stresses, vec![]);
	assert_eq!(back, report());
}
