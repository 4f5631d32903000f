//! Grows the state of a running test-chain node (dev chain, Alice is sudo) to at least `--keys`
//! keys, for benchmarks: calls `sudo(Subnets::populate(first, 16, 256, 0))` for netuids 1, 17,
//! 33, … (each call adds 16 subnets of 256 neurons, about 8 keys per neuron and one child trie
//! per subnet), waits until the block of the last call is finalized and counts the keys of its
//! state (top trie and child tries).
//!
//! ```text
//! grow-state --url ws://127.0.0.1:9944 [--keys 1000000]
//! ```
//!
//! The last line of stdout is `grown: block=<number> hash=<0x…> keys=<count>`. On a state that
//! already holds enough keys nothing is submitted, and the finalized head is reported.

use stagenet_chain::client::{BoxError, Chain};
use std::time::{Duration, Instant};
use subxt::{
	dynamic::Value,
	rpcs::{client::rpc_params, RpcClient},
};

/// Subnets per `populate` call and neurons per subnet: 4096, the runtime's maximum per call.
const SUBNETS_PER_CALL: u16 = 16;
const NEURONS: u16 = 256;
/// Keys per page of `state_getKeysPaged` (the node's maximum).
const PAGE: usize = 1000;
/// How long the block of the last call may take to be finalized.
const FINALITY_TIMEOUT: Duration = Duration::from_secs(180);
/// Prefix of the top-trie keys that hold the roots of default child tries.
const CHILD_PREFIX: &str = "0x3a6368696c645f73746f726167653a64656661756c743a"; // ":child_storage:default:"

const USAGE: &str = "usage: grow-state --url <ws://…> [--keys <target, default 1000000>]";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
	let (url, target) = parse_args()?;
	let chain = Chain::connect(&url).await?;
	let rpc = RpcClient::from_insecure_url(&url).await?;

	let head: String = rpc.request("chain_getFinalizedHead", rpc_params![]).await?;
	let mut keys = count_keys(&rpc, &head).await?;
	eprintln!("grow-state: {keys} keys at the finalized head {head}");
	if keys >= target {
		let number = block_number(&rpc, &head).await?;
		println!("grown: block={number} hash={head} keys={keys}");
		return Ok(());
	}

	// The first netuid no earlier call has populated (netuid 1 exists from genesis, empty).
	let mut first: u16 = 1;
	while chain
		.storage_value::<u16>("Subnets", "SubnetN", vec![Value::u128(u128::from(first))])
		.await?
		.unwrap_or(0)
		> 0
	{
		first += SUBNETS_PER_CALL;
	}

	let started = Instant::now();
	let mut last = None;
	// Until the count reaches the target: estimate the calls still needed from the keys one call
	// adds (measured after the first), make them, count again.
	let mut per_call: Option<u64> = None;
	while keys < target {
		let calls = match per_call {
			None => 1,
			Some(per) => (target - keys).div_ceil(per.max(1)),
		};
		for _ in 0..calls {
			let block = chain
				.sudo(
					"Subnets",
					"populate",
					vec![
						Value::u128(u128::from(first)),
						Value::u128(u128::from(SUBNETS_PER_CALL)),
						Value::u128(u128::from(NEURONS)),
						Value::u128(0),
					],
				)
				.await?;
			eprintln!(
				"grow-state: populate({first}, {SUBNETS_PER_CALL}, {NEURONS}, 0) in block #{} ({:.0} s)",
				block.number,
				started.elapsed().as_secs_f64()
			);
			first += SUBNETS_PER_CALL;
			last = Some(block);
		}
		let Some(block) = last else { break };
		let hash = format!("{:?}", block.hash);
		wait_finalized(&chain, block.number).await?;
		let before = keys;
		keys = count_keys(&rpc, &hash).await?;
		eprintln!("grow-state: {keys} keys at block #{} {hash}", block.number);
		per_call = Some((keys - before) / calls);
	}
	let block = last.ok_or("no populate call was made")?;
	println!(
		"grown: block={} hash={:?} keys={keys}",
		block.number, block.hash
	);
	Ok(())
}

fn parse_args() -> Result<(String, u64), BoxError> {
	let mut args = std::env::args().skip(1);
	let (mut url, mut keys) = (None, 1_000_000u64);
	while let Some(arg) = args.next() {
		let value = args
			.next()
			.ok_or_else(|| format!("`{arg}` needs a value\n{USAGE}"))?;
		match arg.as_str() {
			"--url" => url = Some(value),
			"--keys" => {
				keys = value
					.parse()
					.map_err(|e| format!("`--keys {value}`: {e}"))?
			}
			other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
		}
	}
	Ok((url.ok_or(USAGE)?, keys))
}

/// Waits until block `number` is finalized.
async fn wait_finalized(chain: &Chain, number: u64) -> Result<(), BoxError> {
	let deadline = Instant::now() + FINALITY_TIMEOUT;
	loop {
		let finalized = chain.finalized_number().await?;
		if finalized >= number {
			return Ok(());
		}
		if Instant::now() >= deadline {
			return Err(format!(
				"block #{number} not finalized after {FINALITY_TIMEOUT:?} (finalized: #{finalized})"
			)
			.into());
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

async fn block_number(rpc: &RpcClient, hash: &str) -> Result<u64, BoxError> {
	let header: serde_json::Value = rpc.request("chain_getHeader", rpc_params![hash]).await?;
	let number = header["number"].as_str().ok_or("header without a number")?;
	Ok(u64::from_str_radix(number.trim_start_matches("0x"), 16)?)
}

/// Keys of the state of block `hash`: every top-trie key, plus every key of each child trie.
async fn count_keys(rpc: &RpcClient, hash: &str) -> Result<u64, BoxError> {
	let mut total = 0u64;
	let mut child_roots = Vec::new();
	let mut start: Option<String> = None;
	loop {
		let page: Vec<String> = rpc
			.request(
				"state_getKeysPaged",
				rpc_params!["0x", PAGE, start.clone(), hash],
			)
			.await?;
		total += page.len() as u64;
		child_roots.extend(page.iter().filter(|k| k.starts_with(CHILD_PREFIX)).cloned());
		if page.len() < PAGE {
			break;
		}
		start = page.last().cloned();
	}
	for root in child_roots {
		let mut start: Option<String> = None;
		loop {
			let page: Vec<String> = rpc
				.request(
					"childstate_getKeysPaged",
					rpc_params![root.clone(), "0x", PAGE, start.clone(), hash],
				)
				.await?;
			total += page.len() as u64;
			if page.len() < PAGE {
				break;
			}
			start = page.last().cloned();
		}
	}
	Ok(total)
}
