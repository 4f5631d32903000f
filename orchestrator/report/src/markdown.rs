//! Markdown for a pull-request comment (GitHub-flavoured: tables, `<details>`).

use std::fmt::Write as _;

use stagenet_store::{RunReport, UpgradeRecord, Verdict};

use crate::summary::LedgerSummary;
use crate::text::{
	bytes, clean_line, datetime, duration_ms, millis, percent, ref_time, short_hash, time_of_day,
	title, verdict_label, verdict_reason, versions,
};

/// Findings listed before the rest is only counted (a comment is limited to 65 536 characters).
const MAX_FINDINGS: usize = 20;
/// Context lines per finding.
const CONTEXT_LINES: usize = 3;

/// Renders `report` as Markdown for a pull-request comment: a verdict heading, the gates table,
/// the findings, each upgrade with its storage diff table, a ledger summary and the steps.
pub fn markdown(report: &RunReport) -> String {
	let mut md = String::new();
	heading(&mut md, report);
	gates(&mut md, report);
	findings(&mut md, report);
	upgrades(&mut md, &report.upgrades);
	ledger(&mut md, report);
	steps(&mut md, report);
	let _ = writeln!(
		md,
		"<sub>stagenet {} · provider {} · started {}</sub>",
		text(&report.run.tool_version),
		text(&report.run.provider),
		datetime(report.run.started_at)
	);
	md
}

/// Markdown text: inline markup characters backslash-escaped, HTML characters as entities, `|`
/// escaped so that the text can stand in a table cell. `#12` and `@name` get a word joiner
/// (`&#8288;`) after the sign so that GitHub does not link them to issue 12 or mention a user.
fn text(s: &str) -> String {
	let clean = clean_line(s);
	let mut out = String::with_capacity(clean.len() + 8);
	let mut chars = clean.chars().peekable();
	while let Some(c) = chars.next() {
		match c {
			'#' | '@'
				if chars.peek().is_some_and(|n| {
					n.is_ascii_digit() || (c == '@' && n.is_ascii_alphanumeric())
				}) =>
			{
				out.push(c);
				out.push_str("&#8288;");
			}
			'\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
				out.push('\\');
				out.push(c);
			}
			'<' => out.push_str("&lt;"),
			'>' => out.push_str("&gt;"),
			'&' => out.push_str("&amp;"),
			c => out.push(c),
		}
	}
	out
}

/// An inline code span; `in_table` escapes `|` (GitHub reads `\|` as a pipe even in code).
fn code(s: &str, in_table: bool) -> String {
	let mut clean = clean_line(s).into_owned();
	if in_table {
		clean = clean.replace('|', "\\|");
	}
	let fence = "`".repeat(longest_run(&clean, '`') + 1);
	if clean.starts_with('`') || clean.ends_with('`') {
		format!("{fence} {clean} {fence}")
	} else {
		format!("{fence}{clean}{fence}")
	}
}

fn longest_run(s: &str, ch: char) -> usize {
	let (mut best, mut cur) = (0, 0);
	for c in s.chars() {
		if c == ch {
			cur += 1;
			best = best.max(cur);
		} else {
			cur = 0;
		}
	}
	best
}

fn emoji(passed: bool) -> &'static str {
	if passed {
		"✅"
	} else {
		"❌"
	}
}

fn heading(md: &mut String, report: &RunReport) {
	let verdict = report.verdict();
	let icon = match verdict {
		Verdict::Pass => "✅",
		Verdict::Fail => "❌",
		_ => "⚠️",
	};
	let run = &report.run;
	let _ = writeln!(
		md,
		"## {icon} stagenet: {} · {}\n",
		verdict_label(verdict),
		text(title(report))
	);
	let mut facts = vec![
		format!("**exit code {}**", verdict.exit_code()),
		text(&verdict_reason(report)),
		format!("run {}", code(&run.id, false)),
		format!("chain {}", code(&run.chain, false)),
		format!("genesis {}", code(&short_hash(&run.genesis_hash), false)),
	];
	if let Some(end) = run.finished_at {
		facts.push(format!("took {}", duration_ms(end - run.started_at)));
	}
	let _ = writeln!(md, "{}\n", facts.join(" · "));
	if let Some(e) = &run.error {
		let _ = writeln!(md, "> **error:** {}\n", text(e));
	}
}

fn gates(md: &mut String, report: &RunReport) {
	md.push_str("### Gates\n\n");
	if report.gates.is_empty() {
		md.push_str("No gates.\n\n");
		return;
	}
	md.push_str("| | Gate | Threshold | Measured | Detail |\n|:-:|---|---|---|---|\n");
	for g in &report.gates {
		let measured = if g.passed {
			text(&g.measured)
		} else {
			format!("**{}**", text(&g.measured))
		};
		let _ = writeln!(
			md,
			"| {} | {} | {} | {measured} | {} |",
			emoji(g.passed),
			code(&g.name, true),
			text(&g.threshold),
			g.detail.as_deref().map(text).unwrap_or_default()
		);
	}
	md.push('\n');
}

fn findings(md: &mut String, report: &RunReport) {
	let all = &report.findings;
	if all.is_empty() {
		md.push_str("### Findings\n\nNone.\n\n");
		return;
	}
	let _ = writeln!(md, "### Findings ({})\n", all.len());
	for f in all.iter().take(MAX_FINDINGS) {
		let mut head = format!("- **{}**", f.kind.as_str());
		match &f.node {
			Some(n) => {
				let _ = write!(head, " on {}", code(n, false));
			}
			None => head.push_str(" (network)"),
		}
		if let Some(b) = f.block {
			let _ = write!(head, " at block {b}");
		}
		let _ = writeln!(md, "{head} ({}): {}", time_of_day(f.at), text(&f.message));
		let context: Vec<String> = f
			.context
			.iter()
			.take(CONTEXT_LINES)
			.map(|l| clean_line(l).into_owned())
			.collect();
		if !context.is_empty() {
			let body = context.join("\n");
			let fence = "`".repeat(longest_run(&body, '`').max(2) + 1);
			let _ = writeln!(md, "  {fence}text");
			for line in &context {
				let _ = writeln!(md, "  {line}");
			}
			let _ = writeln!(md, "  {fence}");
		}
	}
	if all.len() > MAX_FINDINGS {
		let _ = writeln!(
			md,
			"- … and {} more (see the HTML report)",
			all.len() - MAX_FINDINGS
		);
	}
	md.push('\n');
}

fn upgrades(md: &mut String, upgrades: &[UpgradeRecord]) {
	if upgrades.is_empty() {
		return;
	}
	let _ = writeln!(md, "### Upgrades ({})\n", upgrades.len());
	for u in upgrades {
		let _ = writeln!(
			md,
			"**Upgrade {} via {}**: {} ({})\n",
			u.seq,
			text(&u.via),
			text(&versions(&u.old_version, u.new_version.as_deref())),
			code(&u.wasm, false),
		);
		let _ = writeln!(
			md,
			"- included in block {} · `CodeUpdated` {} · `LastRuntimeUpgrade` {} · {}",
			u.included_in,
			emoji(u.code_updated),
			u.last_runtime_upgrade
				.as_deref()
				.map_or("unknown".to_owned(), |v| code(v, false)),
			u.first_block
				.map_or("no block of the new runtime".to_owned(), |b| {
					format!("first block {b}")
				}),
		);
		let _ = writeln!(md, "- {}", migration(u));
		if let Some(e) = &u.error {
			let _ = writeln!(md, "- ❌ **error:** {}", text(e));
		}
		md.push('\n');
		let range = match (u.diff_from, u.diff_to) {
			(Some(a), Some(b)) => format!(" from block {a} to {b}"),
			_ => String::new(),
		};
		if u.diff.is_empty() {
			let _ = writeln!(md, "Storage diff{range}: no changes recorded.\n");
			continue;
		}
		let _ = writeln!(
			md,
			"Storage diff{range}:\n\n| Pallet | Added | Changed | Removed | Items |\n\
			 |---|--:|--:|--:|---|"
		);
		for d in &u.diff {
			let items: Vec<String> = d.items.iter().map(|i| text(i)).collect();
			let _ = writeln!(
				md,
				"| {} | {} | {} | {} | {} |",
				text(&d.pallet),
				keys_bytes(d.added_keys, d.added_bytes),
				keys_bytes(d.changed_keys, d.changed_bytes),
				keys_bytes(d.removed_keys, d.removed_bytes),
				items.join("<br>"),
			);
		}
		md.push('\n');
	}
}

/// `migration weight 240.0 ms = **12.0 %** of the block (max 2.00 s)`.
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
		let _ = write!(s, " = **{}** of the block", percent(pct));
	}
	if let Some(m) = u.max_block {
		let _ = write!(s, " (max {})", ref_time(m));
	}
	s
}

fn keys_bytes(keys: u64, b: u64) -> String {
	if keys == 0 && b == 0 {
		"–".to_owned()
	} else {
		format!(
			"{keys} key{}, {}",
			if keys == 1 { "" } else { "s" },
			bytes(b)
		)
	}
}

fn ledger(md: &mut String, report: &RunReport) {
	md.push_str("### Ledger\n\n");
	let s = LedgerSummary::of(report);
	let Some((lo, hi)) = s.range else {
		md.push_str("No blocks recorded.\n\n");
		return;
	};
	let specs: Vec<String> = s.spec_versions.iter().map(u32::to_string).collect();
	let mut parts = vec![format!(
		"{} block{} ({lo} – {hi}, spec {})",
		s.blocks,
		if s.blocks == 1 { "" } else { "s" },
		specs.join(" → ")
	)];
	if let Some(m) = s.max_normal_percent {
		parts.push(format!(
			"max normal {} (block {})",
			percent(m.value),
			m.block
		));
	}
	if let Some(m) = s.max_mandatory_percent {
		parts.push(format!(
			"max mandatory {} (block {})",
			percent(m.value),
			m.block
		));
	}
	if let (Some(p50), Some(p95), Some(max)) = (
		s.block_time_p50_ms,
		s.block_time_p95_ms,
		s.block_time_max_ms,
	) {
		parts.push(format!(
			"block time p50 {} / p95 {} / max {} (block {})",
			duration_ms(p50),
			duration_ms(p95),
			duration_ms(max.value),
			max.block
		));
	}
	if let Some(m) = s.max_finality_lag {
		parts.push(format!("max finality lag {} (block {})", m.value, m.block));
	}
	if let Some(m) = s.max_authoring_ms {
		parts.push(format!(
			"max authoring {} (block {})",
			millis(m.value),
			m.block
		));
	}
	if s.failed_extrinsics > 0 {
		parts.push(format!(
			"{} failed extrinsic{}",
			s.failed_extrinsics,
			if s.failed_extrinsics == 1 { "" } else { "s" }
		));
	}
	let _ = writeln!(md, "{}\n", parts.join(" · "));
}

fn steps(md: &mut String, report: &RunReport) {
	let steps = &report.steps;
	if steps.is_empty() {
		return;
	}
	let failed = steps.iter().filter(|s| !s.ok).count();
	let state = if failed == 0 {
		"all ok".to_owned()
	} else {
		format!("{failed} failed")
	};
	// Open when a step failed: that is what the reader needs to see.
	let open = if failed > 0 { " open" } else { "" };
	let _ = writeln!(
		md,
		"<details{open}><summary>Steps ({}, {state})</summary>\n\n| | # | Kind | Step | Outcome \
		 | Block |\n|:-:|--:|---|---|---|--:|",
		steps.len()
	);
	for s in steps {
		let _ = writeln!(
			md,
			"| {} | {} | {} | {} | {} | {} |",
			emoji(s.ok),
			s.index,
			text(&s.kind),
			text(&s.description),
			text(&s.outcome),
			s.block.map_or(String::new(), |b| b.to_string()),
		);
	}
	md.push_str("\n</details>\n\n");
}
