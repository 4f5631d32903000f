//! The per-block step of the fixture: epochs of subnets whose tempo elapsed.

use crate::pallet::*;
use alloc::vec;
use sp_runtime::Saturating;
use frame_support::{pallet_prelude::*, traits::Get};

/// Ref time of one cell of the dense n×n weight matrix (picoseconds).
const CELL: u64 = 15_000;

/// Runs in `on_initialize`: counts blocks per subnet and runs the epoch of at most
/// `MaxEpochsPerBlock` subnets whose tempo elapsed. Returns the weight it used.
pub(crate) fn block_step<T: Config>(now: u64) -> Weight {
	let db = T::DbWeight::get();
	let mut weight = Weight::zero();
	let mut epochs = 0u32;
	for (netuid, tempo) in Tempo::<T>::iter() {
		weight.saturating_accrue(db.reads_writes(3, 1));
		BlocksSinceLastStep::<T>::mutate(netuid, |b| b.saturating_accrue(1));
		if tempo == 0 || epochs >= T::MaxEpochsPerBlock::get() {
			continue;
		}
		// `now - last` saturates: a fork whose storage still holds the source chain's block
		// numbers never reaches the tempo, exactly as on Subtensor.
		let last = LastEpochBlock::<T>::get(netuid);
		if now.saturating_sub(last) >= tempo as u64 {
			weight.saturating_accrue(epoch::<T>(netuid));
			LastEpochBlock::<T>::insert(netuid, now);
			BlocksSinceLastStep::<T>::insert(netuid, 0);
			weight.saturating_accrue(db.writes(2));
			epochs += 1;
		}
	}
	weight
}

/// One epoch: a dense n×n weight matrix times the stake vector (real O(n²) work), then the
/// incentive of every uid normalised to `u16::MAX`. Returns its declared weight.
pub(crate) fn epoch<T: Config>(netuid: u16) -> Weight {
	let n = SubnetN::<T>::get(netuid) as usize;
	let mut matrix = vec![0u32; n * n];
	let mut stake = vec![0u64; n];
	for uid in 0..n {
		if let Some(hotkey) = Keys::<T>::get(netuid, uid as u16) {
			stake[uid] = Stake::<T>::get(&hotkey, netuid);
		}
		for (dest, w) in Weights::<T>::get(netuid, uid as u16) {
			if let Some(cell) = matrix.get_mut(uid * n + dest as usize) {
				*cell = w as u32;
			}
		}
	}
	let mut ranks = vec![0u128; n];
	for i in 0..n {
		let row = &matrix[i * n..(i + 1) * n];
		for (j, w) in row.iter().enumerate() {
			ranks[j] = ranks[j].saturating_add(stake[i] as u128 * *w as u128);
		}
	}
	let max = ranks.iter().copied().max().unwrap_or(0).max(1);
	let incentive: alloc::vec::Vec<u16> =
		ranks.iter().map(|r| (r.saturating_mul(u16::MAX as u128) / max) as u16).collect();
	Incentive::<T>::insert(netuid, incentive);
	Pallet::<T>::deposit_event(Event::EpochRun { netuid, neurons: n as u16 });
	let n = n as u64;
	T::DbWeight::get()
		.reads_writes(2 * n + 1, 1)
		.saturating_add(Weight::from_parts(CELL.saturating_mul(n * n), 0))
}
