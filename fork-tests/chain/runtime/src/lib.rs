//! Runtime of the stagenet test chain: a small Subtensor-shaped solochain runtime.
//!
//! Pallet indices follow Subtensor's (System 0, Timestamp 2, Aura 3, Grandpa 4, Balances 5,
//! TransactionPayment 6, the fixture `Subnets` at SubtensorModule's 7, Utility 11, Sudo 12),
//! balances are `u64` rao with 9 decimals and SS58 prefix 42. Blocks take one second (like
//! Subtensor's `fast-runtime`). The cargo feature of a variant selects the behaviour of the
//! fixture pallet after an upgrade and raises `spec_version` from 100 to 101.

#![cfg_attr(not(feature = "std"), no_std)]
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

#[allow(unused_imports)]
use alloc::vec::Vec;

mod apis;
mod configs;
pub mod genesis;

use sp_runtime::{
	generic, impl_opaque_keys,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};
use sp_version::RuntimeVersion;

pub use apis::RuntimeApi;
pub use configs::RuntimeBlockWeights;
pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
pub use pallet_subnets;

/// Opaque types used by the node, which does not know the runtime's extrinsic format.
pub mod opaque {
	use super::*;
	use sp_runtime::traits::Hash as HashT;

	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
	/// Opaque block hash type.
	pub type Hash = <BlakeTwo256 as HashT>::Output;
}

impl_opaque_keys! {
	/// Session keys: Aura (sr25519) and GRANDPA (ed25519).
	pub struct SessionKeys {
		pub aura: Aura,
		pub grandpa: Grandpa,
	}
}

/// The variant this wasm was built as.
pub const VARIANT: &str = if cfg!(feature = "upgrade-ok") {
	"upgrade-ok"
} else if cfg!(feature = "panic-on-init") {
	"panic-on-init"
} else if cfg!(feature = "overweight-migration") {
	"overweight-migration"
} else if cfg!(feature = "lossy-migration") {
	"lossy-migration"
} else if cfg!(feature = "slow-init") {
	"slow-init"
} else {
	"baseline"
};

/// Runtime version: 100 for the baseline, 101 for every upgrade variant.
#[cfg(not(any(feature = "upgrade-ok", feature = "panic-on-init", feature = "overweight-migration", feature = "lossy-migration", feature = "slow-init")))]
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("stagenet-test"),
	impl_name: alloc::borrow::Cow::Borrowed("stagenet-test"),
	authoring_version: 1,
	spec_version: 100,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// Runtime version: 100 for the baseline, 101 for every upgrade variant.
#[cfg(any(feature = "upgrade-ok", feature = "panic-on-init", feature = "overweight-migration", feature = "lossy-migration", feature = "slow-init"))]
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("stagenet-test"),
	impl_name: alloc::borrow::Cow::Borrowed("stagenet-test"),
	authoring_version: 1,
	spec_version: 101,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// Milliseconds per block: one second, like Subtensor's `fast-runtime` builds.
pub const MILLI_SECS_PER_BLOCK: u64 = 1000;
/// Aura slot duration.
pub const SLOT_DURATION: u64 = MILLI_SECS_PER_BLOCK;

/// One TAO in rao.
pub const TAO: Balance = 1_000_000_000;
/// Existential deposit (Subtensor: 500 rao).
pub const EXISTENTIAL_DEPOSIT: Balance = 500;

/// Signature type.
pub type Signature = MultiSignature;
/// Account id type.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Balance type (rao).
pub type Balance = u64;
/// Nonce type.
pub type Nonce = u32;
/// Hash type.
pub type Hash = sp_core::H256;
/// Block number type.
pub type BlockNumber = u32;
/// Address format.
pub type Address = MultiAddress<AccountId, ()>;
/// Block header type.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block type.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// Signed block.
pub type SignedBlock = generic::SignedBlock<Block>;
/// Block id.
pub type BlockId = generic::BlockId<Block>;

/// The transaction extensions, the standard set that every client library knows.
pub type TxExtension = (
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
);

/// Unchecked extrinsic type.
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// The payload being signed.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Executive: dispatches to the pallets. The fixture's migration runs from its
/// `on_runtime_upgrade` hook, as Subtensor's do.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	#[runtime::pallet_index(2)]
	pub type Timestamp = pallet_timestamp;
	#[runtime::pallet_index(3)]
	pub type Aura = pallet_aura;
	#[runtime::pallet_index(4)]
	pub type Grandpa = pallet_grandpa;
	#[runtime::pallet_index(5)]
	pub type Balances = pallet_balances;
	#[runtime::pallet_index(6)]
	pub type TransactionPayment = pallet_transaction_payment;
	#[runtime::pallet_index(7)]
	pub type Subnets = pallet_subnets;
	#[runtime::pallet_index(11)]
	pub type Utility = pallet_utility;
	#[runtime::pallet_index(12)]
	pub type Sudo = pallet_sudo;
}
