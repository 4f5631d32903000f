//! The fixture pallet's calls and their Subtensor-like rules on a running chain.

use stagenet_chain::client::{Chain, Outcome};
use stagenet_fork_tests::{
	harness::start_network,
};
use subxt::dynamic::Value;
use subxt_signer::sr25519::{dev, Keypair};

const TAO: u128 = 1_000_000_000;

/// Submits a signed call of the fixture pallet and waits until it is in a best block.
async fn subnets_call(chain: &Chain, signer: &Keypair, call: &str, args: Vec<Value>) -> Outcome {
	chain
		.signed(signer, "Subnets", call, args)
		.await
		.unwrap_or_else(|e| panic!("submit Subnets::{call}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_stake_weights_and_axons_follow_their_rate_limits() {
	stagenet_test_support::require!(TestChain);
	let net = start_network("subnets-calls", 1).await;
	let chain = Chain::connect(&net.nodes()[0].rpc_url)
		.await
		.expect("connect");
	let bob = dev::bob();
	let hotkey = || Value::from_bytes(bob.public_key().0);

	let reg = subnets_call(
		&chain,
		&bob,
		"burned_register",
		vec![Value::u128(1), hotkey()],
	)
	.await;
	assert!(reg.succeeded(), "burned_register: {:?}", reg.error);
	let again = subnets_call(
		&chain,
		&bob,
		"burned_register",
		vec![Value::u128(1), hotkey()],
	)
	.await;
	assert_eq!(
		again.error.as_deref(),
		Some("Subnets::HotkeyAlreadyRegistered")
	);

	let stake = subnets_call(
		&chain,
		&bob,
		"add_stake",
		vec![hotkey(), Value::u128(1), Value::u128(10 * TAO)],
	)
	.await;
	assert!(stake.succeeded(), "add_stake: {:?}", stake.error);
	let (sum, count) = chain
		.storage_sum_u64("Subnets", "Stake")
		.await
		.expect("stake sum");
	let total = chain
		.storage_value::<u64>("Subnets", "TotalStake", vec![])
		.await
		.expect("total");
	assert_eq!((sum, count), (10 * TAO as u64, 1));
	assert_eq!(total, Some(sum));

	// The first weights are free; the second within `WeightsSetRateLimit` (100 blocks) is not.
	let weights = || {
		vec![
			Value::u128(1),
			Value::unnamed_composite([Value::u128(0)]),
			Value::unnamed_composite([Value::u128(100)]),
		]
	};
	let first = subnets_call(&chain, &bob, "set_weights", weights()).await;
	assert!(first.succeeded(), "set_weights: {:?}", first.error);
	let second = subnets_call(&chain, &bob, "set_weights", weights()).await;
	assert_eq!(
		second.error.as_deref(),
		Some("Subnets::SettingWeightsTooFast")
	);
	let last_update = chain
		.storage_value::<Vec<u64>>("Subnets", "LastUpdate", vec![Value::u128(1)])
		.await
		.expect("LastUpdate")
		.expect("LastUpdate of subnet 1");
	assert_eq!(
		last_update,
		vec![first.block.number],
		"LastUpdate holds the block of the first set_weights"
	);

	// Root opens the rate limit and the same call goes through.
	chain
		.sudo(
			"Subnets",
			"sudo_set_weights_set_rate_limit",
			vec![Value::u128(1), Value::u128(0)],
		)
		.await
		.expect("sudo rate limit");
	let third = subnets_call(&chain, &bob, "set_weights", weights()).await;
	assert!(
		third.succeeded(),
		"set_weights after the limit was lifted: {:?}",
		third.error
	);

	let axon = || {
		vec![
			Value::u128(1),
			Value::u128(1),
			Value::u128(0x7f00_0001),
			Value::u128(8091),
			Value::u128(4),
			Value::u128(4),
		]
	};
	let served = subnets_call(&chain, &bob, "serve_axon", axon()).await;
	assert!(served.succeeded(), "serve_axon: {:?}", served.error);
	let too_soon = subnets_call(&chain, &bob, "serve_axon", axon()).await;
	assert_eq!(
		too_soon.error.as_deref(),
		Some("Subnets::ServingRateLimitExceeded")
	);

	let unstake = subnets_call(
		&chain,
		&bob,
		"remove_stake",
		vec![hotkey(), Value::u128(1), Value::u128(4 * TAO)],
	)
	.await;
	assert!(unstake.succeeded(), "remove_stake: {:?}", unstake.error);
	let (sum, _) = chain
		.storage_sum_u64("Subnets", "Stake")
		.await
		.expect("stake sum");
	assert_eq!(sum, 6 * TAO as u64);
	let alice = dev::alice();
	let not_owner = subnets_call(
		&chain,
		&alice,
		"remove_stake",
		vec![hotkey(), Value::u128(1), Value::u128(TAO)],
	)
	.await;
	assert_eq!(not_owner.error.as_deref(), Some("Subnets::NotOwner"));
	drop(net);
}
