//! JUnit XML: one test suite for the run, one test case per gate (class name `stagenet.gates`).
//! A run that could not be carried out (bad input, infrastructure) gets an extra `run` case
//! with an `<error>`, so that a CI viewer never shows such a run as green.

use std::fmt::Write as _;

use stagenet_store::{GateResult, RunReport, Verdict};

use crate::terminal::terminal;
use crate::text::{escape_markup as esc, iso8601, title, verdict_reason};

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

	let tests = report.gates.len() + usize::from(run_error || unexplained_failure);
	let failures = failed_gates + usize::from(unexplained_failure);
	let errors = usize::from(run_error);
	let time = run
		.finished_at
		.map(|end| format!("{:.3}", (end - run.started_at).max(0) as f64 / 1000.0))
		.unwrap_or_else(|| "0".to_owned());

	let mut x = String::new();
	x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	let _ = writeln!(
		x,
		"<testsuites name=\"stagenet\" tests=\"{tests}\" failures=\"{failures}\" \
		 errors=\"{errors}\" time=\"{time}\">"
	);
	let _ = writeln!(
		x,
		"  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" \
		 skipped=\"0\" timestamp=\"{}\" time=\"{time}\">",
		esc(title(report)),
		iso8601(run.started_at),
	);

	x.push_str("    <properties>\n");
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
	for (name, value) in props {
		let _ = writeln!(
			x,
			"      <property name=\"{name}\" value=\"{}\"/>",
			esc(&value)
		);
	}
	x.push_str("    </properties>\n");

	for g in &report.gates {
		gate_case(&mut x, g);
	}
	if run_error {
		let message = run
			.error
			.clone()
			.unwrap_or_else(|| format!("the run ended with verdict `{}`", verdict.as_str()));
		let _ = writeln!(
			x,
			"    <testcase name=\"run\" classname=\"stagenet.run\" time=\"0\">\n      <error \
			 message=\"{}\" type=\"{}\">{}</error>\n    </testcase>",
			esc(&message),
			match verdict {
				Verdict::BadInput | Verdict::Infrastructure | Verdict::Interrupted => {
					verdict.as_str()
				}
				_ => "run-error",
			},
			esc(&verdict_reason(report)),
		);
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
		let _ = writeln!(
			x,
			"    <testcase name=\"verdict\" classname=\"stagenet.run\" time=\"0\">\n      \
			 <failure message=\"verdict `{}` although no gate failed\" type=\"verdict\">{}</failure>\n    \
			 </testcase>",
			verdict.as_str(),
			lines(&failed_steps),
		);
	}

	let summary = terminal(report, false);
	let _ = writeln!(
		x,
		"    <system-out>{}</system-out>",
		lines(&summary.lines().collect::<Vec<_>>())
	);
	x.push_str("  </testsuite>\n</testsuites>\n");
	x
}

fn gate_case(x: &mut String, g: &GateResult) {
	let _ = write!(
		x,
		"    <testcase name=\"{}\" classname=\"stagenet.gates\" time=\"0\"",
		esc(&g.name)
	);
	if g.passed {
		x.push_str("/>\n");
		return;
	}
	let mut body = vec![
		g.description.clone(),
		format!("threshold: {}", g.threshold),
		format!("measured: {}", g.measured),
	];
	if let Some(d) = &g.detail {
		body.push(format!("detail: {d}"));
	}
	let _ = writeln!(
		x,
		">\n      <failure message=\"{}\" type=\"gate\">{}</failure>\n    </testcase>",
		esc(&format!(
			"measured {} vs threshold {}",
			g.measured, g.threshold
		)),
		lines(&body),
	);
}

/// Escaped lines joined by line breaks (each line is cleaned on its own, so breaks survive).
fn lines<S: AsRef<str>>(items: &[S]) -> String {
	items
		.iter()
		.map(|l| esc(l.as_ref()))
		.collect::<Vec<_>>()
		.join("\n")
}
