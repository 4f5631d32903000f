//! Genesis presets: `development` (Alice validates) and `local_testnet` (Alice, Bob and
//! Charlie validate). Alice is sudo; the dev accounts are funded; subnet 1 exists with tempo 10.

use crate::{AccountId, Balance, RuntimeGenesisConfig, TAO};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// Balance of every funded dev account: one million TAO.
pub const DEV_BALANCE: Balance = 1_000_000 * TAO;

fn genesis(
	authorities: Vec<(AuraId, GrandpaId)>,
	root: AccountId,
	endowed: Vec<AccountId>,
) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: pallet_balances::GenesisConfig {
			balances: endowed.iter().cloned().map(|k| (k, DEV_BALANCE)).collect::<Vec<_>>(),
		},
		aura: pallet_aura::GenesisConfig {
			authorities: authorities.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: authorities.iter().map(|x| (x.1.clone(), 1)).collect::<Vec<_>>(),
		},
		sudo: pallet_sudo::GenesisConfig { key: Some(root) },
		subnets: pallet_subnets::GenesisConfig { subnets: vec![(1u16, 10u16)] },
	})
}

fn authority(sr: Sr25519Keyring, ed: Ed25519Keyring) -> (AuraId, GrandpaId) {
	(sr.public().into(), ed.public().into())
}

fn endowed() -> Vec<AccountId> {
	Sr25519Keyring::iter().filter(|k| *k != Sr25519Keyring::One && *k != Sr25519Keyring::Two)
		.map(|k| k.to_account_id())
		.collect()
}

/// The `development` preset: one validator (Alice).
pub fn development() -> Value {
	genesis(
		vec![authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		Sr25519Keyring::Alice.to_account_id(),
		endowed(),
	)
}

/// The `local_testnet` preset: three validators (Alice, Bob, Charlie).
pub fn local_testnet() -> Value {
	genesis(
		vec![
			authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			authority(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			authority(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
		],
		Sr25519Keyring::Alice.to_account_id(),
		endowed(),
	)
}

/// The preset named `id`, serialised as JSON.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_testnet(),
		_ => return None,
	};
	serde_json::to_string(&patch).ok().map(|s| s.into_bytes())
}
