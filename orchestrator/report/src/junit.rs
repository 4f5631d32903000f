//! JUnit XML: one test suite for the run, one test case per gate (class name `stagenet.gates`).
//! A run that could not be carried out (bad input, infrastructure) gets an extra `run` case
//! with an `<error>`, so that a CI viewer never shows such a run as green.

//!
//! The XML is written by `quick-junit` (the serializer of cargo-nextest's JUnit reports): its
//! escaping and structure, our content.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use stagenet_store::{GateResult, RunReport, Verdict};

use crate::terminal::terminal;
use crate::text::{clean_line, title, verdict_reason};

/// Renders `report` as JUnit XML.
pub fn junit(report: &RunReport) -> String {
	let run = &report.run;
	let verdict = report.verdict();
	let failed_gates = report.gates.iter().filter(|g| !g.passed).count();
	let run_error = matches!(
		verdict,
		Verdict::BadInput | Verdict::Infrastructure | Verdict::Interrupted
	) || run.error.is_some();
	// A failing verdict that no gate explains (a failed step, say) still fails the suite.
	let unexplained_failure = !run_error && verdict != Verdict::Pass && failed_gates == 0;
	let time = run
		.finished_at
		.map(|end| Duration::from_millis((end - run.started_at).max(0) as u64))
		.unwrap_or_default();
	let started = chrono::DateTime::from_timestamp_millis(run.started_at);

	let mut suite = TestSuite::new(clean(title(report)));
	suite.set_time(time);
	if let Some(t) = started {
		suite.set_timestamp(t);
	}
	let mut props: Vec<(&str, String)> = vec![("run-id", run.id.clone())];
	if let Some(s) = &run.scenario {
		props.push(("scenario", s.clone()));
	}
	props.extend([
		("chain", run.chain.clone()),
		("genesis", run.genesis_hash.clone()),
		("provider", run.provider.clone()),
		("stagenet-version", run.tool_version.clone()),
		("verdict", verdict.as_str().to_owned()),
		("exit-code", verdict.exit_code().to_string()),
	]);
	suite.add_properties(
		props
			.into_iter()
			.map(|(name, value)| Property::new(name, clean(&value))),
	);
	suite.add_test_cases(report.gates.iter().map(gate_case));
	if run_error {
		let message = run
			.error
			.clone()
			.unwrap_or_else(|| format!("the run ended with verdict `{}`", verdict.as_str()));
		let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
		status
			.set_message(clean(&message))
			.set_type(match verdict {
				Verdict::BadInput | Verdict::Infrastructure | Verdict::Interrupted => {
					verdict.as_str()
				}
				_ => "run-error",
			})
			.set_description(lines(&[verdict_reason(report)]));
		let mut case = TestCase::new("run", status);
		case.set_classname("stagenet.run").set_time(Duration::ZERO);
		suite.add_test_case(case);
	}
	if unexplained_failure {
		let failed_steps: Vec<String> = report
			.steps
			.iter()
			.filter(|s| !s.ok)
			.map(|s| {
				format!(
					"step {} ({}): {} → {}",
					s.index, s.kind, s.description, s.outcome
				)
			})
			.collect();
		let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
		status
			.set_message(format!(
				"verdict `{}` although no gate failed",
				verdict.as_str()
			))
			.set_type("verdict")
			.set_description(lines(&failed_steps));
		let mut case = TestCase::new("verdict", status);
		case.set_classname("stagenet.run").set_time(Duration::ZERO);
		suite.add_test_case(case);
	}
	let summary = terminal(report, false);
	suite.set_system_out(lines(&summary.lines().collect::<Vec<_>>()));

	let mut junit = Report::new("stagenet");
	junit.set_time(time);
	junit.add_test_suite(suite);
	// Serializing into memory fails only on an I/O error of the writer, which a `Vec` has not.
	junit
		.to_string()
		.unwrap_or_else(|e| format!("<!-- the JUnit report could not be written: {e} -->\n"))
}

fn gate_case(g: &GateResult) -> TestCase {
	let status = if g.passed {
		TestCaseStatus::success()
	} else {
		let mut body = vec![
			g.description.clone(),
			format!("threshold: {}", g.threshold),
			format!("measured: {}", g.measured),
		];
		if let Some(d) = &g.detail {
			body.push(format!("detail: {d}"));
		}
		let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
		status
			.set_message(clean(&format!(
				"measured {} vs threshold {}",
				g.measured, g.threshold
			)))
			.set_type("gate")
			.set_description(lines(&body));
		status
	};
	let mut case = TestCase::new(clean(&g.name), status);
	case.set_classname("stagenet.gates").set_time(Duration::ZERO);
	case
}

/// Text from chains and logs without terminal control sequences (XML escaping is the
/// serializer's).
fn clean(text: &str) -> String {
	clean_line(text).into_owned()
}

/// Cleaned lines joined by line breaks (each line is cleaned on its own, so breaks survive).
fn lines<S: AsRef<str>>(items: &[S]) -> String {
	items
		.iter()
		.map(|l| clean(l.as_ref()))
		.collect::<Vec<_>>()
		.join("\n")
}
