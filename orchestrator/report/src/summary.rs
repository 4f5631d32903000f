//! The ledger summary: the few numbers every format shows about the blocks of a run.

use stagenet_store::{
	Divergence, DivergenceKind, ReplayRecord, RunReport, StressBlock, StressRecord,
};

use crate::text::percentile;

/// A value and the block where it was measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AtBlock<T> {
	/// Block number.
	pub block: u64,
	/// The value.
	pub value: T,
}

/// The ledger of a run in a few numbers. Maxima keep the first block that reached them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LedgerSummary {
	/// Blocks recorded.
	pub blocks: usize,
	/// The lowest and highest block number recorded.
	pub range: Option<(u64, u64)>,
	/// Spec versions that executed blocks, in order of first appearance.
	pub spec_versions: Vec<u32>,
	/// Highest normal-class weight, % of the maximum block.
	pub max_normal_percent: Option<AtBlock<f64>>,
	/// Highest mandatory-class weight, % of the maximum block.
	pub max_mandatory_percent: Option<AtBlock<f64>>,
	/// Median block time (ms), from [`RunReport::block_times`].
	pub block_time_p50_ms: Option<i64>,
	/// 95th percentile of block time (ms, nearest rank).
	pub block_time_p95_ms: Option<i64>,
	/// Longest block time (ms).
	pub block_time_max_ms: Option<AtBlock<i64>>,
	/// Largest finality lag (blocks).
	pub max_finality_lag: Option<AtBlock<u64>>,
	/// Longest authoring time (ms).
	pub max_authoring_ms: Option<AtBlock<f64>>,
	/// Extrinsics whose dispatch failed.
	pub failed_extrinsics: usize,
}

impl LedgerSummary {
	/// Summarises the ledger of `report`.
	pub fn of(report: &RunReport) -> LedgerSummary {
		let blocks = &report.blocks;
		let mut s = LedgerSummary {
			blocks: blocks.len(),
			failed_extrinsics: report.failed_extrinsics.len(),
			..LedgerSummary::default()
		};
		for b in blocks {
			s.range = Some(match s.range {
				None => (b.number, b.number),
				Some((lo, hi)) => (lo.min(b.number), hi.max(b.number)),
			});
			if !s.spec_versions.contains(&b.spec_version) {
				s.spec_versions.push(b.spec_version);
			}
			if b.limits.max_block > 0 {
				max_at(
					&mut s.max_normal_percent,
					b.number,
					b.percent_of_block(b.weight.normal),
				);
				max_at(
					&mut s.max_mandatory_percent,
					b.number,
					b.percent_of_block(b.weight.mandatory),
				);
			}
			if let Some(lag) = b.finality_lag() {
				max_at(&mut s.max_finality_lag, b.number, lag);
			}
			if let Some(ms) = b.authoring_ms.filter(|ms| ms.is_finite()) {
				max_at(&mut s.max_authoring_ms, b.number, ms);
			}
		}
		let times = report.block_times();
		for &(block, ms) in &times {
			max_at(&mut s.block_time_max_ms, block, ms);
		}
		let mut sorted: Vec<i64> = times.iter().map(|&(_, ms)| ms).collect();
		sorted.sort_unstable();
		s.block_time_p50_ms = percentile(&sorted, 50.0);
		s.block_time_p95_ms = percentile(&sorted, 95.0);
		s
	}
}

/// Keeps the first maximum.
fn max_at<T: PartialOrd + Copy>(slot: &mut Option<AtBlock<T>>, block: u64, value: T) {
	if slot.is_none_or(|m| value > m.value) {
		*slot = Some(AtBlock { block, value });
	}
}

/// The divergences of a replay grouped by kind, in [`DivergenceKind`]'s order; each group in
/// captured order.
pub(crate) fn divergences_by_kind(
	replay: &ReplayRecord,
) -> Vec<(DivergenceKind, Vec<&Divergence>)> {
	let mut groups: Vec<(DivergenceKind, Vec<&Divergence>)> = Vec::new();
	for d in &replay.divergences {
		match groups.iter_mut().find(|(kind, _)| *kind == d.kind) {
			Some((_, group)) => group.push(d),
			None => groups.push((d.kind, vec![d])),
		}
	}
	groups.sort_by_key(|(kind, _)| *kind);
	groups
}

/// The block of a stress load with the most of its own transactions (the first one on a tie).
pub(crate) fn best_block(stress: &StressRecord) -> Option<&StressBlock> {
	stress
		.blocks
		.iter()
		.fold(None, |best: Option<&StressBlock>, b| match best {
			Some(x) if x.ours >= b.ours => Some(x),
			_ => Some(b),
		})
}

/// `ours` as a percentage of the load's theoretical maximum per block, when that is known.
pub(crate) fn of_theoretical(stress: &StressRecord, ours: u64) -> Option<f64> {
	stress
		.theoretical_per_block
		.filter(|&t| t > 0)
		.map(|t| ours as f64 * 100.0 / t as f64)
}

/// `part` as a percentage of `limit`, unless the limit is 0 or `u64::MAX` (no limit).
fn percent_of_limit(part: u64, limit: u64) -> Option<f64> {
	(limit > 0 && limit != u64::MAX).then(|| part as f64 * 100.0 / limit as f64)
}

/// The fullest block of a stress load: the highest normal-class weight as a percentage of its
/// limit, and the highest length as a percentage of its limit (first block on a tie).
pub(crate) fn fullest(stress: &StressRecord) -> (Option<AtBlock<f64>>, Option<AtBlock<f64>>) {
	let (mut weight, mut length) = (None, None);
	for b in &stress.blocks {
		if let Some(p) = percent_of_limit(b.normal_weight, b.normal_limit) {
			max_at(&mut weight, b.number, p);
		}
		if let Some(p) = percent_of_limit(b.length, b.length_limit) {
			max_at(&mut length, b.number, p);
		}
	}
	(weight, length)
}

/// `normal weight up to 96.2 % of its limit (#32) · length up to 8.8 % (#32)`, if known.
pub(crate) fn fullest_line(stress: &StressRecord) -> Option<String> {
	let (weight, length) = fullest(stress);
	let mut parts = Vec::new();
	if let Some(w) = weight {
		parts.push(format!(
			"normal weight up to {} of its limit (#{})",
			crate::text::percent(w.value),
			w.block
		));
	}
	if let Some(l) = length {
		parts.push(format!(
			"length up to {} of its limit (#{})",
			crate::text::percent(l.value),
			l.block
		));
	}
	(!parts.is_empty()).then(|| parts.join(" · "))
}

/// The fork blocks that carried a replay's extrinsics, when known.
pub(crate) fn fork_range(replay: &ReplayRecord) -> Option<(u64, u64)> {
	match (replay.fork_from, replay.fork_to) {
		(Some(a), Some(b)) => Some((a, b)),
		(Some(a), None) | (None, Some(a)) => Some((a, a)),
		(None, None) => None,
	}
}
