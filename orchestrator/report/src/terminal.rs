//! The terminal report: compact text, readable without color.

use std::fmt::Write as _;

use stagenet_store::{
	Finding, PalletDiff, ReplayRecord, RunReport, StepRecord, StressRecord, UpgradeRecord, Verdict,
};

use crate::summary::{
	best_block, divergences_by_kind, fork_range, fullest_line, of_theoretical, LedgerSummary,
};
use crate::text::{
	clean_line, datetime, duration_ms, keys_bytes, limit_line, millis, percent, percentiles,
	plural, ref_time, short_hash, time_of_day, title, tps, verdict_label, verdict_reason, versions,
};

/// Context lines shown per finding (the HTML page shows them all).
const CONTEXT_LINES: usize = 3;
/// Characters of a context line shown before it is cut with `…`.
const CONTEXT_WIDTH: usize = 140;

/// Renders `report` for a terminal: the verdict, gates, findings, upgrades with their storage
/// diff, replays with their divergences and stress loads with their limit (when the run has
/// any), a ledger summary and the steps. `color` adds ANSI colors (pass it only for a TTY); the
/// text is the same without them.
pub fn terminal(report: &RunReport, color: bool) -> String {
	let p = Paint { color };
	let mut out = String::new();
	header(&mut out, report, p);
	gates(&mut out, report, p);
	findings(&mut out, &report.findings, p);
	upgrades(&mut out, &report.upgrades, p);
	replays(&mut out, &report.replays, p);
	stresses(&mut out, &report.stresses, p);
	ledger(&mut out, report, p);
	steps(&mut out, &report.steps, p);
	out
}

/// ANSI styling that is a no-op without color.
#[derive(Clone, Copy)]
struct Paint {
	color: bool,
}

impl Paint {
	fn sgr(self, code: &str, text: &str) -> String {
		if self.color {
			format!("\u{1b}[{code}m{text}\u{1b}[0m")
		} else {
			text.to_owned()
		}
	}
	fn bold(self, t: &str) -> String {
		self.sgr("1", t)
	}
	fn dim(self, t: &str) -> String {
		self.sgr("2", t)
	}
	fn ok(self, t: &str) -> String {
		self.sgr("32", t)
	}
	fn bad(self, t: &str) -> String {
		self.sgr("31", t)
	}
	fn mark(self, passed: bool) -> String {
		if passed {
			self.ok("✓")
		} else {
			self.bad("✗")
		}
	}
}

/// `s` cut to `max` characters, the last one `…`.
fn cut(s: &str, max: usize) -> String {
	if s.chars().count() <= max {
		return s.to_owned();
	}
	let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
	out.push('…');
	out
}

/// `s` padded with spaces to `width` characters.
fn pad(s: &str, width: usize) -> String {
	let n = s.chars().count();
	format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

fn header(out: &mut String, report: &RunReport, p: Paint) {
	let run = &report.run;
	let _ = writeln!(
		out,
		"{}",
		p.bold(&format!("stagenet · {}", clean_line(title(report))))
	);
	let _ = writeln!(
		out,
		"{}",
		p.dim(&format!(
			"run {} · chain {} · genesis {} · provider {} · stagenet {}",
			clean_line(&run.id),
			clean_line(&run.chain),
			short_hash(&clean_line(&run.genesis_hash)),
			clean_line(&run.provider),
			clean_line(&run.tool_version),
		))
	);
	let mut when = format!("started {}", datetime(run.started_at));
	match run.finished_at {
		Some(end) => {
			let _ = write!(when, " · took {}", duration_ms(end - run.started_at));
		}
		None => when.push_str(" · still running"),
	}
	if let Some(file) = &run.scenario_file {
		let _ = write!(when, " · scenario {}", clean_line(file));
	}
	let _ = writeln!(out, "{}", p.dim(&when));
	out.push('\n');

	let verdict = report.verdict();
	let label = verdict_label(verdict);
	let label = match verdict {
		Verdict::Pass => p.sgr("1;32", &label),
		Verdict::Fail => p.sgr("1;31", &label),
		_ => p.sgr("1;33", &label),
	};
	let _ = writeln!(
		out,
		"{label} · exit {} · {}",
		verdict.exit_code(),
		verdict_reason(report)
	);
	out.push('\n');
}

fn gates(out: &mut String, report: &RunReport, p: Paint) {
	if report.gates.is_empty() {
		let _ = writeln!(out, "{} none\n", p.bold("Gates:"));
		return;
	}
	let _ = writeln!(out, "{}", p.bold("Gates"));
	let name_w = width(report.gates.iter().map(|g| g.name.as_str()));
	let measured_w = width(report.gates.iter().map(|g| g.measured.as_str())) + "measured ".len();
	let threshold_w = width(report.gates.iter().map(|g| g.threshold.as_str())) + "threshold ".len();
	for g in &report.gates {
		let name = pad(&clean_line(&g.name), name_w);
		let measured = pad(&format!("measured {}", clean_line(&g.measured)), measured_w);
		let threshold = format!("threshold {}", clean_line(&g.threshold));
		let measured = if g.passed { measured } else { p.bad(&measured) };
		let mut line = format!("  {} {name}  {measured}  ", p.mark(g.passed));
		match &g.detail {
			Some(d) => {
				let _ = write!(
					line,
					"{}  {}",
					pad(&threshold, threshold_w),
					p.dim(&clean_line(d))
				);
			}
			None => line.push_str(&threshold),
		}
		let _ = writeln!(out, "{}", line.trim_end());
	}
	out.push('\n');
}

/// The widest of `items` in characters (after cleaning).
fn width<'a>(items: impl Iterator<Item = &'a str>) -> usize {
	items
		.map(|s| clean_line(s).chars().count())
		.max()
		.unwrap_or(0)
}

fn findings(out: &mut String, findings: &[Finding], p: Paint) {
	if findings.is_empty() {
		let _ = writeln!(out, "{} none\n", p.bold("Findings:"));
		return;
	}
	let _ = writeln!(out, "{}", p.bold(&format!("Findings ({})", findings.len())));
	for f in findings {
		let mut head = format!("  #{} {}", f.seq, p.bad(f.kind.as_str()));
		match &f.node {
			Some(node) => {
				let _ = write!(head, " · {}", clean_line(node));
			}
			None => head.push_str(" · network"),
		}
		if let Some(b) = f.block {
			let _ = write!(head, " · block #{b}");
		}
		let _ = write!(head, " · {}", time_of_day(f.at));
		let _ = writeln!(out, "{head}");
		let _ = writeln!(out, "     {}", clean_line(&f.message));
		for line in f.context.iter().take(CONTEXT_LINES) {
			let line = cut(&clean_line(line), CONTEXT_WIDTH);
			let _ = writeln!(out, "     {}", p.dim(&format!("│ {line}")));
		}
		if f.context.len() > CONTEXT_LINES {
			let more = f.context.len() - CONTEXT_LINES;
			let _ = writeln!(
				out,
				"     {}",
				p.dim(&format!(
					"│ … {more} more line{}",
					if more == 1 { "" } else { "s" }
				))
			);
		}
	}
	out.push('\n');
}

fn upgrades(out: &mut String, upgrades: &[UpgradeRecord], p: Paint) {
	if upgrades.is_empty() {
		let _ = writeln!(out, "{} none\n", p.bold("Upgrades:"));
		return;
	}
	let _ = writeln!(out, "{}", p.bold(&format!("Upgrades ({})", upgrades.len())));
	for u in upgrades {
		let _ = writeln!(
			out,
			"  #{} via {}: {}  {}",
			u.seq,
			clean_line(&u.via),
			p.bold(&versions(&u.old_version, u.new_version.as_deref())),
			p.dim(&format!(
				"{} {}",
				clean_line(&u.wasm),
				short_hash(&clean_line(&u.code_hash))
			)),
		);
		let mut facts = vec![format!("included in #{}", u.included_in)];
		facts.push(format!(
			"CodeUpdated {}",
			if u.code_updated {
				p.ok("yes")
			} else {
				p.bad("no")
			}
		));
		facts.push(format!(
			"LastRuntimeUpgrade {}",
			clean_line(u.last_runtime_upgrade.as_deref().unwrap_or("unknown"))
		));
		facts.push(match u.first_block {
			Some(b) => format!("first block #{b}"),
			None => "no block of the new runtime".to_owned(),
		});
		let _ = writeln!(out, "     {}", facts.join(" · "));
		let _ = writeln!(out, "     {}", migration(u));
		if let Some(e) = &u.error {
			let _ = writeln!(out, "     {} {}", p.bad("error:"), clean_line(e));
		}
		diff(out, u, p);
	}
	out.push('\n');
}

/// `migration weight 240.0 ms = 12.0 % of the block (max 2.00 s)`.
fn migration(u: &UpgradeRecord) -> String {
	let Some(w) = u.migration_weight else {
		return "migration weight not measured".to_owned();
	};
	let mut s = format!("migration weight {}", ref_time(w));
	let pct = u.migration_percent.or_else(|| {
		u.max_block
			.filter(|&m| m > 0)
			.map(|m| w as f64 * 100.0 / m as f64)
	});
	if let Some(pct) = pct {
		let _ = write!(s, " = {} of the block", percent(pct));
	}
	if let Some(m) = u.max_block {
		let _ = write!(s, " (max {})", ref_time(m));
	}
	s
}

fn diff(out: &mut String, u: &UpgradeRecord, p: Paint) {
	let range = match (u.diff_from, u.diff_to) {
		(Some(a), Some(b)) => format!(" #{a} → #{b}"),
		_ => String::new(),
	};
	if u.diff.is_empty() {
		let _ = writeln!(out, "     storage diff{range}: no changes recorded");
		return;
	}
	let _ = writeln!(out, "     storage diff{range}");
	let rows: Vec<[String; 4]> = u
		.diff
		.iter()
		.map(|d: &PalletDiff| {
			[
				clean_line(&d.pallet).into_owned(),
				keys_bytes(d.added_keys, d.added_bytes),
				keys_bytes(d.changed_keys, d.changed_bytes),
				keys_bytes(d.removed_keys, d.removed_bytes),
			]
		})
		.collect();
	let head = ["pallet", "added", "changed", "removed"].map(str::to_owned);
	let mut w = [0usize; 4];
	for row in std::iter::once(&head).chain(&rows) {
		for (i, cell) in row.iter().enumerate() {
			w[i] = w[i].max(cell.chars().count());
		}
	}
	let line = |row: &[String; 4]| {
		let cells: Vec<String> = row.iter().zip(w).map(|(c, w)| pad(c, w)).collect();
		cells.join("  ").trim_end().to_owned()
	};
	let _ = writeln!(out, "       {}", p.dim(&line(&head)));
	for (row, d) in rows.iter().zip(&u.diff) {
		let _ = writeln!(out, "       {}", line(row));
		for item in &d.items {
			let _ = writeln!(
				out,
				"         {}",
				p.dim(&format!("· {}", clean_line(item)))
			);
		}
	}
}

/// Rows of cells as aligned lines (numbers right-aligned from the second column on), indented.
fn table<const N: usize>(
	out: &mut String,
	indent: &str,
	head: [&str; N],
	rows: &[[String; N]],
	p: Paint,
) {
	let head = head.map(str::to_owned);
	let mut w = [0usize; N];
	for row in std::iter::once(&head).chain(rows) {
		for (i, cell) in row.iter().enumerate() {
			w[i] = w[i].max(cell.chars().count());
		}
	}
	let line = |row: &[String; N]| {
		let cells: Vec<String> = row
			.iter()
			.zip(w)
			.enumerate()
			.map(|(i, (c, w))| {
				if i == 0 {
					pad(c, w)
				} else {
					format!("{}{c}", " ".repeat(w.saturating_sub(c.chars().count())))
				}
			})
			.collect();
		cells.join("  ").trim_end().to_owned()
	};
	let _ = writeln!(out, "{indent}{}", p.dim(&line(&head)));
	for row in rows {
		let _ = writeln!(out, "{indent}{}", line(row));
	}
}

fn replays(out: &mut String, replays: &[ReplayRecord], p: Paint) {
	if replays.is_empty() {
		return;
	}
	let _ = writeln!(out, "{}", p.bold(&format!("Replays ({})", replays.len())));
	for r in replays {
		let _ = writeln!(
			out,
			"  #{} capture {} ({}) · captured #{} – #{} ({}) · rate {} · fork runtime {}",
			r.seq,
			clean_line(&r.capture),
			clean_line(&r.capture_chain),
			r.from_block,
			r.to_block,
			plural(r.blocks, "block"),
			clean_line(&r.rate),
			p.bold(&clean_line(&r.fork_runtime)),
		);
		let diverged = format!("diverged {}", r.divergences.len());
		let mut counts = vec![
			format!("replayed {}", r.replayed),
			format!("matched {}", r.matched),
			if r.divergences.is_empty() {
				p.ok(&diverged)
			} else {
				p.bad(&diverged)
			},
			format!(
				"skipped {} unsigned, {} inherents",
				r.skipped_unsigned, r.skipped_inherents
			),
			format!("undecodable {}", r.undecodable),
		];
		if let Some((a, b)) = fork_range(r) {
			counts.push(format!("fork blocks #{a} – #{b}"));
		}
		counts.push(format!(
			"took {}",
			duration_ms(r.finished_at - r.started_at)
		));
		let _ = writeln!(out, "     {}", counts.join(" · "));
		if let Some(e) = &r.error {
			let _ = writeln!(out, "     {} {}", p.bad("error:"), clean_line(e));
		}
		if !r.semantics.is_empty() {
			let _ = writeln!(out, "     {}", p.dim("replay differs from mainnet in:"));
			for item in &r.semantics {
				let _ = writeln!(out, "       {}", p.dim(&format!("· {}", clean_line(item))));
			}
		}
		for (kind, group) in divergences_by_kind(r) {
			let _ = writeln!(out, "     {} ({})", p.bad(kind.as_str()), group.len());
			for d in group {
				let mut head = format!(
					"       {} · {} · captured #{}-{}",
					clean_line(&d.call),
					d.signer
						.as_deref()
						.map_or("unsigned".to_owned(), |s| short_hash(&clean_line(s))),
					d.captured_block,
					d.captured_index,
				);
				if let Some(b) = d.fork_block {
					let _ = write!(head, " · fork #{b}");
				}
				let _ = writeln!(out, "{head}");
				let _ = writeln!(
					out,
					"         {} → {}",
					clean_line(&d.captured),
					p.bad(&clean_line(&d.fork))
				);
				if !d.detail.is_empty() {
					let _ = writeln!(out, "         {}", clean_line(&d.detail));
				}
				if !d.reproduce.is_empty() {
					let _ = writeln!(
						out,
						"         {}",
						p.dim(&format!("$ {}", clean_line(&d.reproduce)))
					);
				}
			}
		}
		if !r.calls.is_empty() {
			let rows: Vec<[String; 4]> = r
				.calls
				.iter()
				.map(|c| {
					[
						clean_line(&c.call).into_owned(),
						c.replayed.to_string(),
						c.matched.to_string(),
						c.diverged.to_string(),
					]
				})
				.collect();
			table(
				out,
				"     ",
				["call", "replayed", "matched", "diverged"],
				&rows,
				p,
			);
		}
	}
	out.push('\n');
}

fn stresses(out: &mut String, stresses: &[StressRecord], p: Paint) {
	if stresses.is_empty() {
		return;
	}
	let _ = writeln!(
		out,
		"{}",
		p.bold(&format!("Stress loads ({})", stresses.len()))
	);
	for s in stresses {
		let _ = writeln!(
			out,
			"  #{} {}  {}",
			s.seq,
			p.bold(&clean_line(&s.profile)),
			p.dim(&clean_line(&s.profile_file)),
		);
		let _ = writeln!(
			out,
			"     target {} · {} · {} · {}",
			clean_line(&s.target),
			duration_ms(i64::try_from(s.duration_ms).unwrap_or(i64::MAX)),
			plural(s.accounts, "account"),
			plural(s.connections, "connection"),
		);
		let limit = limit_line(s);
		let limit = if s.limit == "none" {
			p.sgr("1;32", &limit)
		} else {
			p.sgr("1;33", &limit)
		};
		let _ = writeln!(out, "     {limit}");
		if let Some(e) = &s.error {
			let _ = writeln!(out, "     {} {}", p.bad("error:"), clean_line(e));
		}
		let _ = writeln!(
			out,
			"     signed {} ({}) · submitted {} · accepted {} · included {} · failed {} · dropped {}",
			s.signed,
			duration_ms(i64::try_from(s.signing_ms).unwrap_or(i64::MAX)),
			s.submitted,
			s.accepted,
			s.included,
			if s.failed == 0 {
				"0".to_owned()
			} else {
				p.bad(&s.failed.to_string())
			},
			s.dropped,
		);
		let _ = writeln!(
			out,
			"     included {} vs submitted {}",
			p.bold(&tps(s.included_tps)),
			tps(s.submit_rate)
		);
		if !s.rejected.is_empty() {
			let items: Vec<String> = s
				.rejected
				.iter()
				.map(|r| format!("{} {}", clean_line(&r.reason), r.count))
				.collect();
			let _ = writeln!(out, "     rejected: {}", items.join(" · "));
		}
		if !s.failed_by.is_empty() {
			let items: Vec<String> = s
				.failed_by
				.iter()
				.map(|r| format!("{} {}", clean_line(&r.reason), r.count))
				.collect();
			let _ = writeln!(out, "     failed: {}", items.join(" · "));
		}
		let _ = writeln!(
			out,
			"     latency       {} ({})",
			percentiles(&s.latency),
			plural(s.latency.count, "sample")
		);
		if let Some(r) = &s.read_latency {
			let _ = writeln!(
				out,
				"     read latency  {} ({})",
				percentiles(r),
				plural(r.count, "sample")
			);
		}
		let _ = writeln!(out, "     {}", per_block(s));
		if let Some(line) = fullest_line(s) {
			let _ = writeln!(out, "     {line}");
		}
		if !s.calls.is_empty() {
			let rows: Vec<[String; 4]> = s
				.calls
				.iter()
				.map(|c| {
					[
						clean_line(&c.call).into_owned(),
						c.submitted.to_string(),
						c.included.to_string(),
						c.failed.to_string(),
					]
				})
				.collect();
			table(
				out,
				"     ",
				["call", "submitted", "included", "failed"],
				&rows,
				p,
			);
		}
	}
	out.push('\n');
}

/// `per block: best 2400 in #31 = 96.0 % of the theoretical 2500`.
fn per_block(s: &StressRecord) -> String {
	let theoretical = s
		.theoretical_per_block
		.map_or("theoretical maximum unknown".to_owned(), |t| {
			format!("theoretical {t}")
		});
	let Some(best) = best_block(s) else {
		return format!("per block: no blocks recorded · {theoretical}");
	};
	match of_theoretical(s, best.ours) {
		Some(pct) => format!(
			"per block: best {} in #{} = {} of the {theoretical}",
			best.ours,
			best.number,
			percent(pct)
		),
		None => format!(
			"per block: best {} in #{} · {theoretical}",
			best.ours, best.number
		),
	}
}

fn ledger(out: &mut String, report: &RunReport, p: Paint) {
	let s = LedgerSummary::of(report);
	let Some((lo, hi)) = s.range else {
		let _ = writeln!(out, "{} no blocks recorded\n", p.bold("Ledger:"));
		return;
	};
	let _ = writeln!(out, "{}", p.bold("Ledger"));
	let specs: Vec<String> = s.spec_versions.iter().map(u32::to_string).collect();
	let mut first = format!(
		"  {} block{}, #{lo} – #{hi} · spec {}",
		s.blocks,
		if s.blocks == 1 { "" } else { "s" },
		specs.join(" → ")
	);
	if s.failed_extrinsics > 0 {
		let _ = write!(
			first,
			" · {} failed extrinsic{}",
			s.failed_extrinsics,
			if s.failed_extrinsics == 1 { "" } else { "s" }
		);
	}
	let _ = writeln!(out, "{first}");
	let at = |v: Option<String>, b: Option<u64>| match (v, b) {
		(Some(v), Some(b)) => format!("{v} (#{b})"),
		_ => "–".to_owned(),
	};
	let _ = writeln!(
		out,
		"  max weight    normal {} · mandatory {}",
		at(
			s.max_normal_percent.map(|m| percent(m.value)),
			s.max_normal_percent.map(|m| m.block)
		),
		at(
			s.max_mandatory_percent.map(|m| percent(m.value)),
			s.max_mandatory_percent.map(|m| m.block)
		),
	);
	let _ = writeln!(
		out,
		"  block time    p50 {} · p95 {} · max {}",
		s.block_time_p50_ms.map_or("–".to_owned(), duration_ms),
		s.block_time_p95_ms.map_or("–".to_owned(), duration_ms),
		at(
			s.block_time_max_ms.map(|m| duration_ms(m.value)),
			s.block_time_max_ms.map(|m| m.block)
		),
	);
	let _ = writeln!(
		out,
		"  finality lag  max {}",
		at(
			s.max_finality_lag.map(|m| format!(
				"{} block{}",
				m.value,
				if m.value == 1 { "" } else { "s" }
			)),
			s.max_finality_lag.map(|m| m.block)
		),
	);
	let _ = writeln!(
		out,
		"  authoring     max {}",
		at(
			s.max_authoring_ms.map(|m| millis(m.value)),
			s.max_authoring_ms.map(|m| m.block)
		),
	);
	out.push('\n');
}

fn steps(out: &mut String, steps: &[StepRecord], p: Paint) {
	if steps.is_empty() {
		let _ = writeln!(out, "{} none", p.bold("Steps:"));
		return;
	}
	let _ = writeln!(out, "{}", p.bold(&format!("Steps ({})", steps.len())));
	let kind_w = width(steps.iter().map(|s| s.kind.as_str()));
	for s in steps {
		let mut line = format!(
			"  {} {:>2} {}  {}",
			p.mark(s.ok),
			s.index,
			pad(&clean_line(&s.kind), kind_w),
			clean_line(&s.description)
		);
		if !s.outcome.is_empty() {
			let outcome = format!("→ {}", clean_line(&s.outcome));
			let _ = write!(line, "  {}", if s.ok { outcome } else { p.bad(&outcome) });
		}
		let mut tail = Vec::new();
		if let Some(b) = s.block {
			tail.push(format!("#{b}"));
		}
		tail.push(duration_ms(s.finished_at - s.started_at));
		let _ = writeln!(out, "{line}  {}", p.dim(&format!("({})", tail.join(", "))));
	}
}
