//! Built-in chain specifications: `dev` (one validator) and `local` (three validators).

use sc_service::ChainType;
use stagenet_test_runtime::WASM_BINARY;

/// The chain specification type of this node: generic, genesis built by the runtime.
pub type ChainSpec = sc_service::GenericChainSpec;

/// Token properties as Subtensor's: TAO, 9 decimals, SS58 prefix 42.
fn properties() -> sc_chain_spec::Properties {
	let mut p = sc_chain_spec::Properties::new();
	p.insert("tokenSymbol".into(), "TAO".into());
	p.insert("tokenDecimals".into(), 9.into());
	p.insert("ss58Format".into(), 42.into());
	p
}

fn wasm() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"the runtime wasm is not built into this node (hint: build without SKIP_WASM_BUILD)"
			.to_string()
	})
}

/// `dev`: Alice validates and is sudo.
pub fn development_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("stagenet test chain (dev)")
		.with_id("stagenet_test_dev")
		.with_protocol_id("stagenet-test-dev")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// `local`: Alice, Bob and Charlie validate; Alice is sudo.
pub fn local_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("stagenet test chain (local)")
		.with_id("stagenet_test_local")
		.with_protocol_id("stagenet-test-local")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}
