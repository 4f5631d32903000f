//! The storage migration of the upgrade variants and the faults some variants inject.
//!
//! Every variant with spec version 101 runs the migration `normalize_weights_v2`, guarded by
//! `HasMigrationRun` as Subtensor's migrations are: it rewrites every `Weights` entry so that
//! its weights sum to `u16::MAX`. The variants differ in what else happens:
//! - `upgrade-ok`: nothing else; the weight returned counts every read and write.
//! - `lossy-migration`: the migration also "compacts" `Stake` and silently drops every second
//!   entry without touching `TotalStake`, so sum(`Stake`) ≠ `TotalStake` afterwards.
//! - `overweight-migration`: the migration does real extra work and declares a weight of three
//!   maximum blocks.
//! - `panic-on-init`: `on_initialize` panics from the third block after the upgrade.
//! - `slow-init`: `on_initialize` does much more work than the weight it declares.

use crate::{pallet::*, MIGRATION_NAME};
use alloc::vec::Vec;
use sp_runtime::Saturating;
use frame_support::{pallet_prelude::*, traits::Get, BoundedVec};

/// The `on_runtime_upgrade` hook.
pub(crate) fn on_runtime_upgrade<T: Config>() -> Weight {
	if !crate::IS_UPGRADE_VARIANT {
		return Weight::zero();
	}
	let db = T::DbWeight::get();
	let Ok(key) = BoundedVec::<u8, ConstU32<64>>::try_from(MIGRATION_NAME.to_vec()) else {
		return db.reads(0);
	};
	if HasMigrationRun::<T>::get(&key) {
		log::info!(target: "runtime::subnets", "migration normalize_weights_v2 already ran; skipped");
		return db.reads(1);
	}
	let mut reads = 1u64;
	let mut writes = 0u64;
	let mut entries = 0u32;
	Weights::<T>::translate::<Vec<(u16, u16)>, _>(|_netuid, _uid, weights| {
		reads += 1;
		writes += 1;
		entries += 1;
		Some(normalize(weights))
	});
	#[cfg(feature = "lossy-migration")]
	{
		let keys: Vec<_> = Stake::<T>::iter_keys().collect();
		reads += keys.len() as u64;
		for (i, (hotkey, netuid)) in keys.into_iter().enumerate() {
			if i % 2 == 1 {
				Stake::<T>::remove(&hotkey, netuid);
				writes += 1;
			}
		}
	}
	// `on_runtime_upgrade` runs before `frame_system` initialises the new block: the stored
	// block number is still the parent's (the block that carried `set_code`).
	let now = Pallet::<T>::now().saturating_add(1);
	HasMigrationRun::<T>::insert(&key, true);
	MigrationRunCount::<T>::mutate(|c| c.saturating_accrue(1));
	UpgradedAt::<T>::put(now);
	writes += 3;
	Pallet::<T>::deposit_event(Event::MigrationApplied { name: MIGRATION_NAME.to_vec(), entries });
	log::info!(
		target: "runtime::subnets",
		"migration normalize_weights_v2 rewrote {entries} entries at block {now}"
	);
	#[allow(unused_mut)]
	let mut weight = db.reads_writes(reads, writes);
	#[cfg(feature = "overweight-migration")]
	{
		busy_work::<T>(200_000);
		weight = T::BlockWeights::get().max_block.saturating_mul(3);
	}
	weight
}

/// The part of `on_initialize` that differs between variants. Returns the declared weight.
#[allow(unused_variables)]
pub(crate) fn variant_on_initialize<T: Config>(now: u64) -> Weight {
	#[cfg(feature = "panic-on-init")]
	if let Some(at) = UpgradedAt::<T>::get() {
		if now >= at.saturating_add(3) {
			panic!("stagenet fixture: on_initialize panicked at block {now} (panic-on-init, upgraded at {at})");
		}
	}
	#[cfg(feature = "slow-init")]
	if UpgradedAt::<T>::get().is_some() {
		busy_work::<T>(4_000_000);
		// Declares 1 ms while the work above takes far longer.
		return Weight::from_parts(1_000_000_000, 0);
	}
	Weight::zero()
}

/// Hash chaining: real wall time spent in the runtime, kept by writing the result.
#[allow(dead_code)]
fn busy_work<T: Config>(rounds: u32) {
	let mut acc = [0u8; 32];
	for _ in 0..rounds {
		acc = sp_io::hashing::blake2_256(&acc);
	}
	BusyWorkDigest::<T>::put(acc);
}

/// Scale weights so that they sum to `u16::MAX` (all-zero vectors are left as they are).
fn normalize(weights: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
	let sum: u64 = weights.iter().map(|(_, w)| *w as u64).sum();
	if sum == 0 {
		return weights;
	}
	weights
		.into_iter()
		.map(|(d, w)| (d, ((w as u64 * u16::MAX as u64) / sum) as u16))
		.collect()
}
