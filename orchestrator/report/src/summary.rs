//! The ledger summary: the few numbers every format shows about the blocks of a run.

use stagenet_store::RunReport;

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
