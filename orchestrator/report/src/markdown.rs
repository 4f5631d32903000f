//! Markdown for a pull-request comment (GitHub-flavoured: tables, `<details>`).

use std::fmt::Write as _;

use stagenet_store::{ReplayRecord, RunReport, StressRecord, UpgradeRecord, Verdict};

use crate::summary::{
	best_block, divergences_by_kind, fork_range, fullest_line, of_theoretical, LedgerSummary,
};
use crate::text::{
	clean_line, datetime, duration_ms, keys_bytes, millis, percent, percentiles, plural, ref_time,
	short_hash, time_of_day, title, tps, verdict_label, verdict_reason, versions,
};

/// Findings listed before the rest is only counted (a comment is limited to 65 536 characters).
const MAX_FINDINGS: usize = 20;
/// Divergences listed per replay before the rest is only counted.
const MAX_DIVERGENCES: usize = 30;
/// Context lines per finding.
const CONTEXT_LINES: usize = 3;

/// Renders `report` as Markdown for a pull-request comment: a verdict heading, the gates table,
/// the findings, each upgrade with its storage diff table, each replay with its divergences and
/// each stress load with its limit (when the run has any), a ledger summary and the steps.
pub fn markdown(report: &RunReport) -> String {
	let mut md = String::new();
	heading(&mut md, report);
	gates(&mut md, report);
	findings(&mut md, report);
	upgrades(&mut md, &report.upgrades);
	replays(&mut md, &report.replays);
	stresses(&mut md, &report.stresses);
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

fn replays(md: &mut String, replays: &[ReplayRecord]) {
	if replays.is_empty() {
		return;
	}
	let _ = writeln!(md, "### Replays ({})\n", replays.len());
	for r in replays {
		let _ = writeln!(
			md,
			"**Replay {}** of {} ({}): captured blocks {} – {} ({}) at rate {} on {}\n",
			r.seq,
			code(&r.capture, false),
			text(&r.capture_chain),
			r.from_block,
			r.to_block,
			plural(r.blocks, "block"),
			code(&r.rate, false),
			code(&r.fork_runtime, false),
		);
		let diverged = r.divergences.len();
		let mut counts = vec![
			format!("replayed {}", r.replayed),
			format!("matched {}", r.matched),
			if diverged == 0 {
				"diverged 0 ✅".to_owned()
			} else {
				format!("**diverged {diverged}** ❌")
			},
			format!(
				"skipped {} unsigned and {} inherents",
				r.skipped_unsigned, r.skipped_inherents
			),
			format!("undecodable {}", r.undecodable),
		];
		if let Some((a, b)) = fork_range(r) {
			counts.push(format!("fork blocks {a} – {b}"));
		}
		counts.push(format!(
			"took {}",
			duration_ms(r.finished_at - r.started_at)
		));
		let _ = writeln!(md, "- {}", counts.join(" · "));
		if let Some(e) = &r.error {
			let _ = writeln!(md, "- ❌ **error:** {}", text(e));
		}
		if !r.semantics.is_empty() {
			md.push_str("- replay differs from mainnet in:\n");
			for item in &r.semantics {
				let _ = writeln!(md, "  - {}", text(item));
			}
		}
		md.push('\n');
		let mut listed = 0;
		for (kind, group) in divergences_by_kind(r) {
			if listed >= MAX_DIVERGENCES {
				break;
			}
			let _ = writeln!(
				md,
				"**{}** ({}):\n\n| Call | Signer | Captured block-index | Captured outcome | Fork outcome | \
				 Detail | Reproduce |\n|---|---|---|---|---|---|---|",
				kind.as_str(),
				group.len()
			);
			for d in group.into_iter().take(MAX_DIVERGENCES - listed) {
				listed += 1;
				let fork = match d.fork_block {
					Some(b) => format!("{} (block {b})", code(&d.fork, true)),
					None => code(&d.fork, true),
				};
				let _ = writeln!(
					md,
					"| {} | {} | {}-{} | {} | {fork} | {} | {} |",
					code(&d.call, true),
					d.signer
						.as_deref()
						.map_or("unsigned".to_owned(), |s| code(&short_hash(s), true)),
					d.captured_block,
					d.captured_index,
					code(&d.captured, true),
					text(&d.detail),
					if d.reproduce.is_empty() {
						String::new()
					} else {
						code(&d.reproduce, true)
					},
				);
			}
			md.push('\n');
		}
		if diverged > listed {
			let _ = writeln!(
				md,
				"… and {} more divergences (see the HTML report)\n",
				diverged - listed
			);
		}
		if !r.calls.is_empty() {
			let _ = writeln!(
				md,
				"<details><summary>Per call ({})</summary>\n\n| Call | Replayed | Matched | \
				 Diverged |\n|---|--:|--:|--:|",
				r.calls.len()
			);
			for c in &r.calls {
				let _ = writeln!(
					md,
					"| {} | {} | {} | {} |",
					code(&c.call, true),
					c.replayed,
					c.matched,
					c.diverged
				);
			}
			md.push_str("\n</details>\n\n");
		}
	}
}

fn stresses(md: &mut String, stresses: &[StressRecord]) {
	if stresses.is_empty() {
		return;
	}
	let _ = writeln!(md, "### Stress loads ({})\n", stresses.len());
	for s in stresses {
		let _ = writeln!(
			md,
			"**Stress {}: {}** ({}): target {} · {} · {} · {}\n",
			s.seq,
			code(&s.profile, false),
			code(&s.profile_file, false),
			text(&s.target),
			duration_ms(i64::try_from(s.duration_ms).unwrap_or(i64::MAX)),
			plural(s.accounts, "account"),
			plural(s.connections, "connection"),
		);
		let icon = if s.limit == "none" { "✅" } else { "⚠️" };
		let name = text(&s.limit);
		let limit = if clean_line(&s.limit_detail).trim().is_empty() {
			format!("**limit: {name}**")
		} else {
			format!("**limit: {name}** — {}", text(&s.limit_detail))
		};
		let _ = writeln!(md, "> {icon} {limit}\n");
		if let Some(e) = &s.error {
			let _ = writeln!(md, "> ❌ **error:** {}\n", text(e));
		}
		let _ = writeln!(
			md,
			"| Signed | Submitted | Accepted | Included | Failed | Dropped |\n\
			 |--:|--:|--:|--:|--:|--:|\n| {} | {} | {} | {} | {} | {} |\n",
			s.signed, s.submitted, s.accepted, s.included, s.failed, s.dropped
		);
		let _ = writeln!(
			md,
			"- included **{}** vs submit rate {} (signing took {})",
			tps(s.included_tps),
			tps(s.submit_rate),
			duration_ms(i64::try_from(s.signing_ms).unwrap_or(i64::MAX)),
		);
		let _ = writeln!(
			md,
			"- latency {} ({})",
			percentiles(&s.latency),
			plural(s.latency.count, "sample")
		);
		if let Some(r) = &s.read_latency {
			let _ = writeln!(
				md,
				"- read latency {} ({})",
				percentiles(r),
				plural(r.count, "sample")
			);
		}
		let theoretical = s
			.theoretical_per_block
			.map_or("theoretical maximum unknown".to_owned(), |t| {
				format!("theoretical {t}")
			});
		match best_block(s) {
			None => {
				let _ = writeln!(md, "- per block: no blocks recorded · {theoretical}");
			}
			Some(b) => match of_theoretical(s, b.ours) {
				Some(pct) => {
					let _ = writeln!(
						md,
						"- per block: best {} in block {} = **{}** of the {theoretical}",
						b.ours,
						b.number,
						percent(pct)
					);
				}
				None => {
					let _ = writeln!(
						md,
						"- per block: best {} in block {} · {theoretical}",
						b.ours, b.number
					);
				}
			},
		}
		if let Some(line) = fullest_line(s) {
			let _ = writeln!(md, "- {}", text(&line));
		}
		for (label, reasons) in [("rejected", &s.rejected), ("failed", &s.failed_by)] {
			if reasons.is_empty() {
				continue;
			}
			let items: Vec<String> = reasons
				.iter()
				.map(|r| format!("{} {}", code(&r.reason, false), r.count))
				.collect();
			let _ = writeln!(md, "- {label}: {}", items.join(" · "));
		}
		md.push('\n');
		if !s.calls.is_empty() {
			md.push_str("| Call | Submitted | Included | Failed |\n|---|--:|--:|--:|\n");
			for c in &s.calls {
				let _ = writeln!(
					md,
					"| {} | {} | {} | {} |",
					code(&c.call, true),
					c.submitted,
					c.included,
					c.failed
				);
			}
			md.push('\n');
		}
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
