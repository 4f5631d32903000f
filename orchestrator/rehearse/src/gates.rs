//! The verdict: every gate of a scenario with its measured value, from what the monitor
//! recorded (ledger, findings), the upgrades and the steps.

use stagenet_config::Gates;
use stagenet_store::{
	BlockRecord, Finding, GateResult, ReplayRecord, StepRecord, StressRecord, UpgradeRecord,
};
use std::collections::BTreeSet;

/// What the gates are measured on.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
	/// The ledger.
	pub blocks: &'a [BlockRecord],
	/// Findings.
	pub findings: &'a [Finding],
	/// Upgrades.
	pub upgrades: &'a [UpgradeRecord],
	/// Replays.
	pub replays: &'a [ReplayRecord],
	/// Stress loads.
	pub stresses: &'a [StressRecord],
	/// Steps (`assert-storage` steps become `invariant:<name>` gates).
	pub steps: &'a [StepRecord],
	/// Highest best block at the end.
	pub best: u64,
	/// Highest finalized block at the end.
	pub finalized: u64,
}

pub use stagenet_store::percentile;

fn gate(
	name: &str,
	description: String,
	threshold: String,
	measured: String,
	passed: bool,
	detail: Option<String>,
) -> GateResult {
	GateResult {
		name: name.into(),
		description,
		threshold,
		measured,
		passed,
		detail,
	}
}

/// Every gate of `gates` (and one per invariant, and one for the steps), in a fixed order.
pub fn evaluate(gates: &Gates, ev: &Evidence<'_>) -> Vec<GateResult> {
	let mut out = Vec::new();
	if gates.no_panic {
		out.push(no_panic(ev));
	}
	if let Some(limit) = gates.migration_weight_percent {
		out.push(migration_weight(limit, ev));
	}
	if let Some(limit) = gates.normal_weight_percent {
		out.push(normal_weight(limit, ev));
	}
	if let Some(limit) = gates.block_time_p95 {
		out.push(block_time_p95(limit, ev));
	}
	if let Some(limit) = gates.finality_lag {
		out.push(finality_lag(limit, ev));
	}
	if let Some(k) = gates.keeps_producing {
		out.push(keeps_producing(k, ev));
	}
	for s in ev.steps.iter().filter(|s| s.kind == "assert-storage") {
		let name = s
			.description
			.split_whitespace()
			.nth(1)
			.unwrap_or("invariant")
			.trim_end_matches(':');
		out.push(gate(
			&format!("invariant:{name}"),
			s.description.clone(),
			"holds".into(),
			s.outcome.clone(),
			s.ok,
			s.block.map(|b| format!("read at block #{b}")),
		));
	}
	if let Some(max) = gates.replay_max_divergences {
		out.push(replay_divergences(max, gates, ev));
	}
	if let Some(min) = gates.stress_min_included_tps {
		out.push(stress_included_tps(min, ev));
	}
	let failed: Vec<&StepRecord> = ev
		.steps
		.iter()
		.filter(|s| s.kind != "assert-storage" && !s.ok)
		.collect();
	if !ev.steps.is_empty() {
		out.push(gate(
			"steps",
			"every step did what it should".into(),
			"0 failed".into(),
			format!("{} failed", failed.len()),
			failed.is_empty(),
			failed
				.first()
				.map(|s| format!("step {} ({}): {}", s.index + 1, s.kind, s.outcome)),
		));
	}
	out
}
/// The `no-panic` gate: no panic or wasm trap in any node's log.
fn no_panic(ev: &Evidence<'_>) -> GateResult {
	let panics: Vec<&Finding> = ev.findings.iter().filter(|f| f.kind.is_panic()).collect();
	let detail = panics.first().map(|first| {
		let nodes: BTreeSet<&str> = panics.iter().filter_map(|f| f.node.as_deref()).collect();
		let nodes: Vec<&str> = nodes.into_iter().collect();
		format!(
			"{} on {} at block #{}: {}",
			first.kind.as_str(),
			nodes.join(", "),
			first
				.block
				.map(|b| b.to_string())
				.unwrap_or_else(|| "?".into()),
			first.message
		)
	});
	gate(
		"no-panic",
		"no panic or wasm trap in any node's log".into(),
		"0".into(),
		format!("{} finding(s)", panics.len()),
		panics.is_empty(),
		detail,
	)
}

/// The `migration-weight` gate: the heaviest upgrade's migration weight within its share of the block.
fn migration_weight(limit: f64, ev: &Evidence<'_>) -> GateResult {
	let measured: Vec<(f64, &UpgradeRecord)> = ev
		.upgrades
		.iter()
		.filter_map(|u| u.migration_percent.map(|p| (p, u)))
		.collect();
	let worst = measured.iter().max_by(|a, b| a.0.total_cmp(&b.0)).copied();
	match worst {
		Some((p, u)) => gate(
			"migration-weight",
			format!("migration weight ≤ {limit} % of the maximum block weight"),
			format!("≤ {limit} %"),
			format!("{p:.1} %"),
			p <= limit,
			Some(format!(
				"block #{} (first of {}): mandatory {} ps − {} ps before = {} ps of {} ps",
				u.first_block.unwrap_or_default(),
				u.new_version.as_deref().unwrap_or("the new runtime"),
				u.first_block_mandatory.unwrap_or_default(),
				u.baseline_mandatory.unwrap_or_default(),
				u.migration_weight.unwrap_or_default(),
				u.max_block.unwrap_or_default()
			)),
		),
		None => gate(
			"migration-weight",
			format!("migration weight ≤ {limit} % of the maximum block weight"),
			format!("≤ {limit} %"),
			"not measured".into(),
			false,
			Some(
				"no upgrade was measured (hint: add an `upgrade` step, or remove this gate)"
					.into(),
			),
		),
	}
}

/// The `normal-weight` gate: normal-class weight of every recorded block within its share.
fn normal_weight(limit: f64, ev: &Evidence<'_>) -> GateResult {
	let worst = ev.blocks.iter().max_by(|a, b| {
		a.percent_of_block(a.weight.normal)
			.total_cmp(&b.percent_of_block(b.weight.normal))
	});
	match worst {
		Some(b) => {
			let p = b.percent_of_block(b.weight.normal);
			gate(
				"normal-weight",
				format!("normal-class weight ≤ {limit} % of the block in every block"),
				format!("≤ {limit} %"),
				format!("{p:.1} %"),
				p <= limit,
				Some(format!(
					"heaviest: block #{} ({} blocks recorded)",
					b.number,
					ev.blocks.len()
				)),
			)
		}
		None => not_measured(
			"normal-weight",
			format!("normal-class weight ≤ {limit} % of the block in every block"),
			format!("≤ {limit} %"),
		),
	}
}

/// The `block-time-p95` gate: the 95th percentile of block times within the limit.
fn block_time_p95(limit: std::time::Duration, ev: &Evidence<'_>) -> GateResult {
	let times: Vec<(u64, f64)> = stagenet_store::block_times(ev.blocks)
		.into_iter()
		.map(|(block, ms)| (block, ms as f64))
		.collect();
	let values: Vec<f64> = times.iter().map(|t| t.1).collect();
	let limit_ms = limit.as_secs_f64() * 1000.0;
	match percentile(&values, 95.0) {
		Some(p95) => {
			let slowest = ev
				.blocks
				.iter()
				.filter(|b| b.authoring_ms.is_some())
				.max_by(|a, b| {
					a.authoring_ms
						.unwrap_or(0.0)
						.total_cmp(&b.authoring_ms.unwrap_or(0.0))
				});
			let authoring = slowest.map(|b| {
				format!(
					"; slowest authoring {:.0} ms at #{} against {:.1} ms of declared weight (all classes)",
					b.authoring_ms.unwrap_or(0.0),
					b.number,
					(b.weight.normal + b.weight.operational + b.weight.mandatory) as f64 / 1e9
				)
			});
			gate(
				"block-time-p95",
				format!("95th percentile of the block time ≤ {limit_ms:.0} ms"),
				format!("≤ {limit_ms:.0} ms"),
				format!("{p95:.0} ms"),
				p95 <= limit_ms,
				Some(format!(
					"{} intervals, max {:.0} ms{}",
					values.len(),
					values.iter().cloned().fold(0.0, f64::max),
					authoring.unwrap_or_default()
				)),
			)
		}
		None => not_measured(
			"block-time-p95",
			format!("95th percentile of the block time ≤ {limit_ms:.0} ms"),
			format!("≤ {limit_ms:.0} ms"),
		),
	}
}

/// The `finality-lag` gate: the largest finality lag within the limit.
fn finality_lag(limit: u64, ev: &Evidence<'_>) -> GateResult {
	let worst = ev
		.blocks
		.iter()
		.filter_map(|b| b.finality_lag().map(|l| (l, b.number)))
		.max();
	let end_lag = ev.best.saturating_sub(ev.finalized);
	let (lag, at) = match worst {
		Some((l, n)) if l >= end_lag => (l, format!("at block #{n}")),
		_ => (
			end_lag,
			format!(
				"at the end (best #{}, finalized #{})",
				ev.best, ev.finalized
			),
		),
	};
	gate(
		"finality-lag",
		format!("finality lag ≤ {limit} blocks"),
		format!("≤ {limit} blocks"),
		format!("{lag} blocks"),
		lag <= limit,
		Some(format!("largest {at}")),
	)
}

/// The `keeps-producing` gate: blocks produced and finalized after the last upgrade.
fn keeps_producing(k: u64, ev: &Evidence<'_>) -> GateResult {
	let since = ev
		.upgrades
		.last()
		.map(|u| u.included_in)
		.or_else(|| ev.blocks.first().map(|b| b.number))
		.unwrap_or(0);
	let produced = ev.best.saturating_sub(since);
	let finalized = ev.finalized.saturating_sub(since);
	let what = if ev.upgrades.is_empty() {
		"the first recorded block"
	} else {
		"the last upgrade"
	};
	gate(
		"keeps-producing",
		format!("at least {k} blocks produced and finalized after {what}"),
		format!("≥ {k} blocks"),
		format!("{produced} produced, {finalized} finalized"),
		produced >= k && finalized >= k,
		Some(format!(
			"since #{since}: best #{}, finalized #{}",
			ev.best, ev.finalized
		)),
	)
}

/// The `replay-divergences` gate: divergences of every replay (allowed calls not counted) within the maximum.
fn replay_divergences(max: u64, gates: &Gates, ev: &Evidence<'_>) -> GateResult {
	let allowed = &gates.replay_allowed_calls;
	let counted: Vec<&stagenet_store::Divergence> = ev
		.replays
		.iter()
		.flat_map(|r| &r.divergences)
		.filter(|d| !allowed.iter().any(|a| a == &d.call))
		.collect();
	let excused = ev
		.replays
		.iter()
		.map(|r| r.divergences.len())
		.sum::<usize>()
		- counted.len();
	let description = if allowed.is_empty() {
		format!("at most {max} replay divergence(s)")
	} else {
		format!(
			"at most {max} replay divergence(s), not counting {}",
			allowed.join(", ")
		)
	};
	if ev.replays.is_empty() {
		gate(
			"replay-divergences",
			description,
			format!("≤ {max}"),
			"not measured".into(),
			false,
			Some("no replay ran (hint: add a `replay` step, or remove this gate)".into()),
		)
	} else {
		gate(
			"replay-divergences",
			description,
			format!("≤ {max}"),
			format!(
				"{}{}",
				counted.len(),
				if excused > 0 {
					format!(" (+{excused} allowed)")
				} else {
					String::new()
				}
			),
			counted.len() as u64 <= max,
			counted.first().map(|d| {
				format!(
					"{} {} by {} at captured #{}: captured {}, fork {} — {}",
					d.kind.as_str(),
					d.call,
					d.signer.as_deref().unwrap_or("?"),
					d.captured_block,
					d.captured,
					d.fork,
					d.reproduce
				)
			}),
		)
	}
}

/// The `stress-included-tps` gate: every stress load included at least this many transactions per second.
fn stress_included_tps(min: f64, ev: &Evidence<'_>) -> GateResult {
	let worst = ev
		.stresses
		.iter()
		.min_by(|a, b| a.included_tps.total_cmp(&b.included_tps));
	match worst {
		Some(s) => gate(
			"stress-included-tps",
			format!("every stress load included ≥ {min} transactions per second"),
			format!("≥ {min} tx/s"),
			format!("{:.1} tx/s", s.included_tps),
			s.included_tps >= min,
			Some(format!(
				"`{}`: {} included of {} submitted; limit: {} — {}",
				s.profile, s.included, s.submitted, s.limit, s.limit_detail
			)),
		),
		None => gate(
			"stress-included-tps",
			format!("every stress load included ≥ {min} transactions per second"),
			format!("≥ {min} tx/s"),
			"not measured".into(),
			false,
			Some("no stress load ran (hint: add a `stress` step, or remove this gate)".into()),
		),
	}
}


fn not_measured(name: &str, description: String, threshold: String) -> GateResult {
	gate(
		name,
		description,
		threshold,
		"not measured".into(),
		false,
		Some("no blocks were recorded (hint: see the findings and the node logs)".into()),
	)
}

#[cfg(test)]
mod tests;
