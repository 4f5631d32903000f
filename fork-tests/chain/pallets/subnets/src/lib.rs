//! `pallet-subnets`: the fixture pallet of the stagenet test chain.
//!
//! It mimics the parts of Subtensor's `SubtensorModule` that make a fork of mainnet hard:
//! per-subnet tempo and epochs run from `on_initialize`, rate limits measured against
//! block-number-valued storage (`LastUpdate`, `Axons[*].block`), registrations, stake,
//! weights and a `HasMigrationRun` guard for storage migrations. Block numbers are stored
//! as `u64`, as Subtensor does.
//!
//! Cargo features select a runtime *variant* (see `README.md` of the test chain): without
//! one the pallet is the baseline; `upgrade-ok`, `panic-on-init`, `overweight-migration`,
//! `lossy-migration` and `slow-init` each add one behaviour after a runtime upgrade.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod epoch;
mod migration;

/// The name under which the fixture's storage migration records itself in `HasMigrationRun`.
pub const MIGRATION_NAME: &[u8] = b"normalize_weights_v2";

/// Whether this build is one of the upgrade variants (spec version 101).
pub const IS_UPGRADE_VARIANT: bool = cfg!(any(
	feature = "upgrade-ok",
	feature = "panic-on-init",
	feature = "overweight-migration",
	feature = "lossy-migration",
	feature = "slow-init"
));

#[frame_support::pallet]
pub mod pallet {
	use alloc::vec::Vec;
	use codec::{Decode, Encode};
	use frame_support::{
		pallet_prelude::*,
		storage::child,
		traits::{
			fungible::{Inspect, Mutate},
			tokens::{Fortitude, Precision, Preservation},
		},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::{
		traits::{SaturatedConversion, TrailingZeroInput},
		Saturating,
	};

	/// The balance type of the currency: Subtensor balances are `u64` rao.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// A served axon, shaped like Subtensor's `AxonInfo`: `block` is block-number-valued.
	#[derive(
		Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Default, Debug, TypeInfo, MaxEncodedLen,
	)]
	pub struct AxonInfo {
		/// Block at which the axon was served.
		pub block: u64,
		/// Version of the axon software.
		pub version: u32,
		/// IP address (v4 or v6 in the low bits).
		pub ip: u128,
		/// Port.
		pub port: u16,
		/// 4 or 6.
		pub ip_type: u8,
		/// Protocol number.
		pub protocol: u8,
		/// Reserved.
		pub placeholder1: u8,
		/// Reserved.
		pub placeholder2: u8,
	}

	#[pallet::pallet]
	// Vectors per subnet, as in Subtensor, which has no storage info either.
	#[pallet::without_storage_info]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// Currency burned on registration and locked as stake.
		type Currency: Mutate<Self::AccountId, Balance = u64>;
		/// Maximum neurons per subnet (Subtensor: 256).
		#[pallet::constant]
		type MaxAllowedUids: Get<u16>;
		/// Maximum epochs run in one block (Subtensor runs at most two).
		#[pallet::constant]
		type MaxEpochsPerBlock: Get<u32>;
		/// Maximum neurons created by one `populate` call.
		#[pallet::constant]
		type MaxPopulatePerCall: Get<u32>;
	}

	/// Default `WeightsSetRateLimit` (Subtensor's default is 100 blocks).
	#[pallet::type_value]
	pub fn DefaultWeightsSetRateLimit() -> u64 {
		100
	}
	/// Default `ServingRateLimit` (Subtensor's default is 50 blocks).
	#[pallet::type_value]
	pub fn DefaultServingRateLimit() -> u64 {
		50
	}
	/// Default registration burn: 1 TAO.
	#[pallet::type_value]
	pub fn DefaultBurn() -> u64 {
		1_000_000_000
	}

	/// Subnets that exist.
	#[pallet::storage]
	pub type NetworksAdded<T> = StorageMap<_, Identity, u16, bool, ValueQuery>;
	/// Number of subnets.
	#[pallet::storage]
	pub type TotalNetworks<T> = StorageValue<_, u16, ValueQuery>;
	/// Blocks between two epochs of a subnet (0: never).
	#[pallet::storage]
	pub type Tempo<T> = StorageMap<_, Identity, u16, u16, ValueQuery>;
	/// Block of the subnet's last epoch (block-number-valued).
	#[pallet::storage]
	pub type LastEpochBlock<T> = StorageMap<_, Identity, u16, u64, ValueQuery>;
	/// Blocks since the subnet's last epoch.
	#[pallet::storage]
	pub type BlocksSinceLastStep<T> = StorageMap<_, Identity, u16, u64, ValueQuery>;
	/// Block at which the subnet was registered (block-number-valued).
	#[pallet::storage]
	pub type NetworkRegisteredAt<T> = StorageMap<_, Identity, u16, u64, ValueQuery>;
	/// Neurons registered on the subnet.
	#[pallet::storage]
	pub type SubnetN<T> = StorageMap<_, Identity, u16, u16, ValueQuery>;
	/// Current registration burn of the subnet.
	#[pallet::storage]
	pub type Burn<T> = StorageMap<_, Identity, u16, u64, ValueQuery, DefaultBurn>;
	/// Hotkey of `(netuid, uid)`.
	#[pallet::storage]
	pub type Keys<T: Config> =
		StorageDoubleMap<_, Identity, u16, Identity, u16, T::AccountId, OptionQuery>;
	/// Uid of a hotkey on a subnet.
	#[pallet::storage]
	pub type Uids<T: Config> =
		StorageDoubleMap<_, Identity, u16, Blake2_128Concat, T::AccountId, u16, OptionQuery>;
	/// Block at which `(netuid, uid)` registered (block-number-valued).
	#[pallet::storage]
	pub type BlockAtRegistration<T> =
		StorageDoubleMap<_, Identity, u16, Identity, u16, u64, ValueQuery>;
	/// Coldkey owning a hotkey.
	#[pallet::storage]
	pub type Owner<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, T::AccountId, OptionQuery>;
	/// Stake of a hotkey on a subnet, in rao.
	#[pallet::storage]
	pub type Stake<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Identity, u16, u64, ValueQuery>;
	/// Sum of every `Stake` entry: an invariant readable over RPC.
	#[pallet::storage]
	pub type TotalStake<T> = StorageValue<_, u64, ValueQuery>;
	/// Block at which each uid of the subnet last set weights (block-number-valued; 0: never).
	#[pallet::storage]
	pub type LastUpdate<T> = StorageMap<_, Identity, u16, Vec<u64>, ValueQuery>;
	/// Blocks a uid must wait between two `set_weights`.
	#[pallet::storage]
	pub type WeightsSetRateLimit<T> =
		StorageMap<_, Identity, u16, u64, ValueQuery, DefaultWeightsSetRateLimit>;
	/// Blocks a hotkey must wait between two `serve_axon`.
	#[pallet::storage]
	pub type ServingRateLimit<T> =
		StorageMap<_, Identity, u16, u64, ValueQuery, DefaultServingRateLimit>;
	/// Weights set by `(netuid, uid)`: `(dest uid, weight)`.
	#[pallet::storage]
	pub type Weights<T> =
		StorageDoubleMap<_, Identity, u16, Identity, u16, Vec<(u16, u16)>, ValueQuery>;
	/// Incentive of every uid of the subnet, computed by the last epoch.
	#[pallet::storage]
	pub type Incentive<T> = StorageMap<_, Identity, u16, Vec<u16>, ValueQuery>;
	/// Axon served by a hotkey on a subnet.
	#[pallet::storage]
	pub type Axons<T: Config> =
		StorageDoubleMap<_, Identity, u16, Blake2_128Concat, T::AccountId, AxonInfo, OptionQuery>;
	/// Storage migrations that already ran, by name (as in Subtensor).
	#[pallet::storage]
	pub type HasMigrationRun<T> =
		StorageMap<_, Identity, BoundedVec<u8, ConstU32<64>>, bool, ValueQuery>;
	/// How many times a migration body executed: lets tests prove "exactly once".
	#[pallet::storage]
	pub type MigrationRunCount<T> = StorageValue<_, u32, ValueQuery>;
	/// Block at which the runtime upgrade to this variant was applied.
	#[pallet::storage]
	pub type UpgradedAt<T> = StorageValue<_, u64, OptionQuery>;
	/// Digest of the busy work of the `slow-init` and `overweight-migration` variants
	/// (written so that the work cannot be optimised away).
	#[pallet::storage]
	pub type BusyWorkDigest<T> = StorageValue<_, [u8; 32], ValueQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Subnets present at genesis: `(netuid, tempo)`.
		pub subnets: Vec<(u16, u16)>,
		#[serde(skip)]
		#[allow(missing_docs)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for (netuid, tempo) in &self.subnets {
				Pallet::<T>::add_network(*netuid, *tempo, 0);
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A subnet was created.
		NetworkAdded { netuid: u16, tempo: u16 },
		/// A neuron registered.
		NeuronRegistered { netuid: u16, uid: u16, hotkey: T::AccountId },
		/// Stake was added to a hotkey.
		StakeAdded { hotkey: T::AccountId, netuid: u16, amount: u64 },
		/// Stake was removed from a hotkey.
		StakeRemoved { hotkey: T::AccountId, netuid: u16, amount: u64 },
		/// A neuron set its weights.
		WeightsSet { netuid: u16, uid: u16 },
		/// A neuron served its axon.
		AxonServed { netuid: u16, hotkey: T::AccountId },
		/// An epoch ran on a subnet.
		EpochRun { netuid: u16, neurons: u16 },
		/// `populate` created neurons.
		Populated { subnets: u16, neurons: u32 },
		/// A subnet parameter was changed by root.
		ParameterSet { netuid: u16 },
		/// A storage migration ran.
		MigrationApplied { name: Vec<u8>, entries: u32 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The subnet already exists.
		NetworkExists,
		/// The subnet does not exist.
		NetworkDoesNotExist,
		/// The hotkey is already registered on this subnet.
		HotkeyAlreadyRegistered,
		/// The subnet has `MaxAllowedUids` neurons.
		SubnetFull,
		/// The hotkey is not registered on this subnet.
		NotRegistered,
		/// The coldkey cannot pay the registration burn or the stake.
		NotEnoughBalance,
		/// The hotkey has less stake than asked to remove.
		NotEnoughStake,
		/// The signer does not own this hotkey.
		NotOwner,
		/// `set_weights` was called before `WeightsSetRateLimit` blocks passed.
		SettingWeightsTooFast,
		/// `dests` and `weights` differ in length.
		WeightVecLengthMismatch,
		/// A destination uid does not exist on the subnet.
		UidOutOfRange,
		/// `serve_axon` was called before `ServingRateLimit` blocks passed.
		ServingRateLimitExceeded,
		/// `populate` was asked for more than `MaxPopulatePerCall` neurons.
		TooManyToPopulate,
		/// The runtime's account id cannot be built from 32 bytes (`populate`).
		UnsupportedAccountId,
		/// `dests` names a uid twice (checked by the upgrade variants only).
		DuplicateUids,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(n: BlockNumberFor<T>) -> Weight {
			let now: u64 = n.saturated_into();
			let mut weight = crate::epoch::block_step::<T>(now);
			weight.saturating_accrue(crate::migration::variant_on_initialize::<T>(now));
			weight
		}

		fn on_runtime_upgrade() -> Weight {
			crate::migration::on_runtime_upgrade::<T>()
		}
	}

	// Declared weights (picoseconds of ref time). Each call's weight is honest for the
	// baseline: it counts the reads and writes the call does.
	const BASE: u64 = 20_000_000; // 20 µs
	const PER_NEURON_POPULATE: u64 = 25_000_000; // 25 µs: about ten writes

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Create subnet `netuid` with `tempo` (root only).
		#[pallet::call_index(0)]
		#[pallet::weight(T::DbWeight::get().reads_writes(2, 6).saturating_add(Weight::from_parts(BASE, 0)))]
		pub fn register_network(origin: OriginFor<T>, netuid: u16, tempo: u16) -> DispatchResult {
			ensure_root(origin)?;
			ensure!(!NetworksAdded::<T>::get(netuid), Error::<T>::NetworkExists);
			Self::add_network(netuid, tempo, Self::now());
			Ok(())
		}

		/// Register `hotkey` on `netuid`, burning the subnet's `Burn` from the signer.
		#[pallet::call_index(1)]
		#[pallet::weight(T::DbWeight::get().reads_writes(6, 8).saturating_add(Weight::from_parts(4 * BASE, 0)))]
		pub fn burned_register(
			origin: OriginFor<T>,
			netuid: u16,
			hotkey: T::AccountId,
		) -> DispatchResult {
			let coldkey = ensure_signed(origin)?;
			ensure!(NetworksAdded::<T>::get(netuid), Error::<T>::NetworkDoesNotExist);
			ensure!(
				!Uids::<T>::contains_key(netuid, &hotkey),
				Error::<T>::HotkeyAlreadyRegistered
			);
			let n = SubnetN::<T>::get(netuid);
			ensure!(n < T::MaxAllowedUids::get(), Error::<T>::SubnetFull);
			if let Some(owner) = Owner::<T>::get(&hotkey) {
				ensure!(owner == coldkey, Error::<T>::NotOwner);
			}
			let burn = Burn::<T>::get(netuid);
			T::Currency::burn_from(
				&coldkey,
				burn,
				Preservation::Preserve,
				Precision::Exact,
				Fortitude::Polite,
			)
			.map_err(|_| Error::<T>::NotEnoughBalance)?;
			// The price rises by 5 % per registration, as registration rushes do on mainnet.
			Burn::<T>::insert(netuid, burn.saturating_add(burn / 20));
			let uid = Self::append_neuron(netuid, &hotkey, Self::now());
			Owner::<T>::insert(&hotkey, &coldkey);
			Self::deposit_event(Event::NeuronRegistered { netuid, uid, hotkey });
			Ok(())
		}

		/// Move `amount` rao from the signer's balance into `hotkey`'s stake on `netuid`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::DbWeight::get().reads_writes(4, 4).saturating_add(Weight::from_parts(2 * BASE, 0)))]
		pub fn add_stake(
			origin: OriginFor<T>,
			hotkey: T::AccountId,
			netuid: u16,
			amount: u64,
		) -> DispatchResult {
			let coldkey = ensure_signed(origin)?;
			ensure!(Uids::<T>::contains_key(netuid, &hotkey), Error::<T>::NotRegistered);
			T::Currency::burn_from(
				&coldkey,
				amount,
				Preservation::Preserve,
				Precision::Exact,
				Fortitude::Polite,
			)
			.map_err(|_| Error::<T>::NotEnoughBalance)?;
			Stake::<T>::mutate(&hotkey, netuid, |s| s.saturating_accrue(amount));
			TotalStake::<T>::mutate(|t| t.saturating_accrue(amount));
			Self::deposit_event(Event::StakeAdded { hotkey, netuid, amount });
			Ok(())
		}

		/// Move `amount` rao of `hotkey`'s stake back to the signer, who must own the hotkey.
		#[pallet::call_index(3)]
		#[pallet::weight(T::DbWeight::get().reads_writes(4, 4).saturating_add(Weight::from_parts(2 * BASE, 0)))]
		pub fn remove_stake(
			origin: OriginFor<T>,
			hotkey: T::AccountId,
			netuid: u16,
			amount: u64,
		) -> DispatchResult {
			let coldkey = ensure_signed(origin)?;
			ensure!(Owner::<T>::get(&hotkey) == Some(coldkey.clone()), Error::<T>::NotOwner);
			let stake = Stake::<T>::get(&hotkey, netuid);
			ensure!(stake >= amount, Error::<T>::NotEnoughStake);
			Stake::<T>::insert(&hotkey, netuid, stake - amount);
			TotalStake::<T>::mutate(|t| t.saturating_reduce(amount));
			T::Currency::mint_into(&coldkey, amount)?;
			Self::deposit_event(Event::StakeRemoved { hotkey, netuid, amount });
			Ok(())
		}

		/// Set the signer's (a registered hotkey) weights on `netuid`; rate-limited by
		/// `WeightsSetRateLimit` blocks against `LastUpdate`, like Subtensor.
		#[pallet::call_index(4)]
		#[pallet::weight(T::DbWeight::get().reads_writes(5, 2).saturating_add(
			Weight::from_parts(10 * BASE + 100_000 * dests.len() as u64, 0)))]
		pub fn set_weights(
			origin: OriginFor<T>,
			netuid: u16,
			dests: Vec<u16>,
			weights: Vec<u16>,
		) -> DispatchResult {
			let hotkey = ensure_signed(origin)?;
			ensure!(NetworksAdded::<T>::get(netuid), Error::<T>::NetworkDoesNotExist);
			let uid = Uids::<T>::get(netuid, &hotkey).ok_or(Error::<T>::NotRegistered)?;
			ensure!(dests.len() == weights.len(), Error::<T>::WeightVecLengthMismatch);
			// The upgrade variants reject a uid named twice, as Subtensor does (`DuplicateUids`):
			// a call whose outcome the upgrade changes, so replay tests have a real divergence.
			if crate::IS_UPGRADE_VARIANT {
				let mut seen = dests.clone();
				seen.sort_unstable();
				seen.dedup();
				ensure!(seen.len() == dests.len(), Error::<T>::DuplicateUids);
			}
			let n = SubnetN::<T>::get(netuid);
			ensure!(dests.iter().all(|d| *d < n), Error::<T>::UidOutOfRange);
			let now = Self::now();
			let mut last_update = LastUpdate::<T>::get(netuid);
			let last = last_update.get(uid as usize).copied().unwrap_or_default();
			// As in Subtensor: `now - last` saturates, so storage holding block numbers from
			// the future (a fork that was not rebased) keeps the rate limit shut.
			if last != 0 {
				ensure!(
					now.saturating_sub(last) >= WeightsSetRateLimit::<T>::get(netuid),
					Error::<T>::SettingWeightsTooFast
				);
			}
			if let Some(slot) = last_update.get_mut(uid as usize) {
				*slot = now;
			}
			LastUpdate::<T>::insert(netuid, last_update);
			Weights::<T>::insert(netuid, uid, dests.into_iter().zip(weights).collect::<Vec<_>>());
			Self::deposit_event(Event::WeightsSet { netuid, uid });
			Ok(())
		}

		/// Serve the signer's axon on `netuid`; rate-limited by `ServingRateLimit` blocks
		/// against the block stored in the previous `AxonInfo`.
		#[pallet::call_index(5)]
		#[pallet::weight(T::DbWeight::get().reads_writes(3, 1).saturating_add(Weight::from_parts(BASE, 0)))]
		pub fn serve_axon(
			origin: OriginFor<T>,
			netuid: u16,
			version: u32,
			ip: u128,
			port: u16,
			ip_type: u8,
			protocol: u8,
		) -> DispatchResult {
			let hotkey = ensure_signed(origin)?;
			ensure!(Uids::<T>::contains_key(netuid, &hotkey), Error::<T>::NotRegistered);
			let now = Self::now();
			if let Some(prev) = Axons::<T>::get(netuid, &hotkey) {
				ensure!(
					now.saturating_sub(prev.block) >= ServingRateLimit::<T>::get(netuid),
					Error::<T>::ServingRateLimitExceeded
				);
			}
			let info = AxonInfo {
				block: now,
				version,
				ip,
				port,
				ip_type,
				protocol,
				placeholder1: 0,
				placeholder2: 0,
			};
			Axons::<T>::insert(netuid, &hotkey, info);
			Self::deposit_event(Event::AxonServed { netuid, hotkey });
			Ok(())
		}

		/// Grow the state (root only): create subnets `first_netuid..first_netuid+subnets`
		/// (with `tempo`, 0 for no epochs) and fill each with `neurons` neurons, each with a
		/// hotkey, owner, stake, weights, an axon and an entry in the subnet's child trie
		/// `subnet-<netuid>`. About ten keys per neuron; repeat calls to reach millions.
		#[pallet::call_index(6)]
		#[pallet::weight((Weight::from_parts(
			PER_NEURON_POPULATE.saturating_mul((*subnets as u64).saturating_mul(*neurons as u64)), 0)
			.saturating_add(T::DbWeight::get().writes(8 * (*subnets as u64))),
			DispatchClass::Operational))]
		pub fn populate(
			origin: OriginFor<T>,
			first_netuid: u16,
			subnets: u16,
			neurons: u16,
			tempo: u16,
		) -> DispatchResult {
			ensure_root(origin)?;
			let total = (subnets as u32).saturating_mul(neurons as u32);
			ensure!(total <= T::MaxPopulatePerCall::get(), Error::<T>::TooManyToPopulate);
			let now = Self::now();
			for netuid in first_netuid..first_netuid.saturating_add(subnets) {
				if !NetworksAdded::<T>::get(netuid) {
					Self::add_network(netuid, tempo, now);
				}
				let child_info = child::ChildInfo::new_default(&Self::child_trie_name(netuid));
				let start = SubnetN::<T>::get(netuid);
				let end = start.saturating_add(neurons).min(T::MaxAllowedUids::get());
				for uid in start..end {
					let hotkey = Self::synthetic_account(b"hot", netuid, uid)?;
					let coldkey = Self::synthetic_account(b"cold", netuid, uid)?;
					Self::append_neuron(netuid, &hotkey, now);
					Owner::<T>::insert(&hotkey, &coldkey);
					let stake = 1_000_000_000u64.saturating_add(uid as u64);
					Stake::<T>::insert(&hotkey, netuid, stake);
					TotalStake::<T>::mutate(|t| t.saturating_accrue(stake));
					let next = if end > 1 { (uid + 1) % end } else { 0 };
					Weights::<T>::insert(netuid, uid, alloc::vec![(uid, 1000u16), (next, 500u16)]);
					Axons::<T>::insert(
						netuid,
						&hotkey,
						AxonInfo {
							block: now,
							version: 1,
							ip: 0x7f00_0001u128.saturating_add(uid as u128),
							port: 8091,
							ip_type: 4,
							protocol: 4,
							..Default::default()
						},
					);
					child::put(&child_info, &hotkey.encode(), &stake);
				}
				let mut last_update = LastUpdate::<T>::get(netuid);
				for slot in last_update.iter_mut().skip(start as usize) {
					*slot = now;
				}
				LastUpdate::<T>::insert(netuid, last_update);
			}
			Self::deposit_event(Event::Populated { subnets, neurons: total });
			Ok(())
		}

		/// Set a subnet's `WeightsSetRateLimit` (root only, like AdminUtils).
		#[pallet::call_index(7)]
		#[pallet::weight(T::DbWeight::get().reads_writes(1, 1))]
		pub fn sudo_set_weights_set_rate_limit(
			origin: OriginFor<T>,
			netuid: u16,
			limit: u64,
		) -> DispatchResult {
			ensure_root(origin)?;
			ensure!(NetworksAdded::<T>::get(netuid), Error::<T>::NetworkDoesNotExist);
			WeightsSetRateLimit::<T>::insert(netuid, limit);
			Self::deposit_event(Event::ParameterSet { netuid });
			Ok(())
		}

		/// Set a subnet's `ServingRateLimit` (root only).
		#[pallet::call_index(8)]
		#[pallet::weight(T::DbWeight::get().reads_writes(1, 1))]
		pub fn sudo_set_serving_rate_limit(
			origin: OriginFor<T>,
			netuid: u16,
			limit: u64,
		) -> DispatchResult {
			ensure_root(origin)?;
			ensure!(NetworksAdded::<T>::get(netuid), Error::<T>::NetworkDoesNotExist);
			ServingRateLimit::<T>::insert(netuid, limit);
			Self::deposit_event(Event::ParameterSet { netuid });
			Ok(())
		}

		/// Set a subnet's `Tempo` (root only).
		#[pallet::call_index(9)]
		#[pallet::weight(T::DbWeight::get().reads_writes(1, 1))]
		pub fn sudo_set_tempo(origin: OriginFor<T>, netuid: u16, tempo: u16) -> DispatchResult {
			ensure_root(origin)?;
			ensure!(NetworksAdded::<T>::get(netuid), Error::<T>::NetworkDoesNotExist);
			Tempo::<T>::insert(netuid, tempo);
			Self::deposit_event(Event::ParameterSet { netuid });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// The current block number as Subtensor stores it.
		pub fn now() -> u64 {
			frame_system::Pallet::<T>::block_number().saturated_into()
		}

		/// Name of the child trie `populate` fills for `netuid`.
		pub fn child_trie_name(netuid: u16) -> Vec<u8> {
			let mut name = b"subnet-".to_vec();
			name.extend_from_slice(&netuid.encode());
			name
		}

		pub(crate) fn add_network(netuid: u16, tempo: u16, now: u64) {
			NetworksAdded::<T>::insert(netuid, true);
			TotalNetworks::<T>::mutate(|n| n.saturating_accrue(1));
			Tempo::<T>::insert(netuid, tempo);
			NetworkRegisteredAt::<T>::insert(netuid, now);
			LastEpochBlock::<T>::insert(netuid, now);
			BlocksSinceLastStep::<T>::insert(netuid, 0);
			Self::deposit_event(Event::NetworkAdded { netuid, tempo });
		}

		/// Give `hotkey` the next uid of `netuid`; returns the uid.
		fn append_neuron(netuid: u16, hotkey: &T::AccountId, now: u64) -> u16 {
			let uid = SubnetN::<T>::get(netuid);
			Keys::<T>::insert(netuid, uid, hotkey);
			Uids::<T>::insert(netuid, hotkey, uid);
			BlockAtRegistration::<T>::insert(netuid, uid, now);
			LastUpdate::<T>::mutate(netuid, |v| v.push(0));
			SubnetN::<T>::insert(netuid, uid.saturating_add(1));
			uid
		}

		/// A deterministic account for `populate`.
		fn synthetic_account(
			tag: &[u8],
			netuid: u16,
			uid: u16,
		) -> Result<T::AccountId, Error<T>> {
			let seed =
				(b"stagenet-populate", tag, netuid, uid).using_encoded(sp_io::hashing::blake2_256);
			// An `AccountId32` decodes from any 32 bytes; `TrailingZeroInput` pads shorter ids.
			T::AccountId::decode(&mut TrailingZeroInput::new(&seed))
				.map_err(|_| Error::<T>::UnsupportedAccountId)
		}
	}
}
