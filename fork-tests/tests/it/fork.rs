//! `stagenet fork` end to end: a test chain that ran with registrations, weights and epochs is
//! snapshotted, forked with the shipped `test-chain.yaml` profile and started as a 3-validator
//! network from the spec. The fork must behave like the source from block W on (rate limits,
//! deadlines, epoch phase), keep issuance consistent, be sealed from the source, and boot a
//! runtime override that migrates at block 1. The same checks fail on a fork built with
//! `--no-rebase`, which shows that rebasing is what makes them hold.

use stagenet_chain::{
	client::{Chain, Refused},
	hash::storage_prefix,
};
use stagenet_fork_tests::{
	harness::{repo_root, start_network_from_spec, test_chain_dir},
	solo::SoloNode,
};
use stagenet_fork::{fork, ForkOptions, ForkSummary};
use stagenet_snapshot::{download, BlockRef, DownloadOptions, Progress};
use std::{
	path::{Path, PathBuf},
	sync::Arc,
	time::Duration,
};
use subxt::{
	dynamic::{At, Value},
	rpcs::{client::rpc_params, RpcClient},
	utils::H256,
};
use subxt_signer::sr25519::{dev, Keypair};

const TAO: u128 = 1_000_000_000;
/// `WeightsSetRateLimit` of subnet 1 during the test.
const LIMIT: u64 = 25;
/// The warm-up of `fork-tests/profiles/test-chain.yaml`.
const W: u64 = 30;
/// Blocks after the snapshot (source) or after W (fork) over which epochs are compared.
const SPAN: u64 = 45;

fn out_dir(name: &str) -> PathBuf {
	let dir = repo_root()
		.join("target/test-runs")
		.join(format!("fork-{name}-{}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create the test's output directory");
	dir
}

fn profile() -> PathBuf {
	repo_root().join("fork-tests/profiles/test-chain.yaml")
}

async fn call(chain: &Chain, signer: &Keypair, name: &str, args: Vec<Value>) -> u64 {
	let out = chain
		.signed(signer, "Subnets", name, args)
		.await
		.unwrap_or_else(|e| panic!("submit Subnets::{name}: {e}"));
	assert!(out.succeeded(), "Subnets::{name}: {:?}", out.error);
	out.block.number
}

async fn sudo(chain: &Chain, name: &str, args: Vec<Value>) -> u64 {
	chain
		.sudo("Subnets", name, args)
		.await
		.unwrap_or_else(|e| panic!("sudo Subnets::{name}: {e}"))
		.number
}

fn account(k: &Keypair) -> Value {
	Value::from_bytes(k.public_key().0)
}

fn set_weights_args() -> Vec<Value> {
	vec![
		Value::u128(1),
		Value::unnamed_composite([Value::u128(0), Value::u128(1)]),
		Value::unnamed_composite([Value::u128(100), Value::u128(200)]),
	]
}

/// Blocks in `from..=to` where `Subnets::EpochRun` fired for `netuid`.
async fn epochs(chain: &Chain, netuid: u128, from: u64, to: u64) -> Vec<u64> {
	let mut out = Vec::new();
	for n in from..=to {
		let hash = chain
			.block_hash(n)
			.await
			.expect("block hash")
			.unwrap_or_else(|| panic!("no block #{n}"));
		for ev in chain
			.events_at(hash, "Subnets", "EpochRun")
			.await
			.expect("events")
		{
			if ev.at("netuid").and_then(|v| v.as_u128()) == Some(netuid) {
				out.push(n);
			}
		}
	}
	out
}

/// `set_weights` by Dave dry-run at the blocks `limit_at - 1` and `limit_at`: refused, then
/// allowed. Returns the two outcomes.
async fn rate_limit_edge(chain: &Chain, limit_at: u64) -> (Result<(), Refused>, Result<(), Refused>) {
	let dave = dev::dave();
	let mut out = Vec::new();
	for n in [limit_at - 1, limit_at] {
		let hash = chain
			.wait_block_hash(n, Duration::from_secs(180))
			.await
			.expect("block");
		let xt = chain
			.sign_at(hash, &dave, "Subnets", "set_weights", set_weights_args())
			.await
			.expect("sign");
		out.push(chain.dry_run(&xt, hash).await.expect("dry run"));
	}
	let second = out.pop().unwrap_or(Ok(()));
	let first = out.pop().unwrap_or(Ok(()));
	(first, second)
}

/// Sum of `free + reserved` over `System::Account`, and `Balances::TotalIssuance`, at `hash`.
async fn balances_and_issuance(url: &str, hash: H256) -> (u128, u128, usize) {
	let rpc = RpcClient::from_insecure_url(url).await.expect("connect");
	let prefix = storage_prefix("System", "Account");
	let prefix_hex = format!("0x{}", hex::encode(&prefix));
	let mut keys: Vec<String> = Vec::new();
	let mut start: Option<String> = None;
	loop {
		let page: Vec<String> = rpc
			.request(
				"state_getKeysPaged",
				rpc_params![&prefix_hex, 500, start.clone(), hash],
			)
			.await
			.expect("state_getKeysPaged");
		let done = page.len() < 500;
		start = page.last().cloned();
		keys.extend(page);
		if done {
			break;
		}
	}
	let mut sum = 0u128;
	for k in &keys {
		let v: Option<String> = rpc
			.request("state_getStorage", rpc_params![k, hash])
			.await
			.expect("state_getStorage");
		let v = hex::decode(v.expect("value").trim_start_matches("0x")).expect("hex");
		// AccountInfo { nonce, consumers, providers, sufficients: u32, data: { free, reserved: u64, … } }
		let free = u64::from_le_bytes(v[16..24].try_into().expect("free"));
		let reserved = u64::from_le_bytes(v[24..32].try_into().expect("reserved"));
		sum += free as u128 + reserved as u128;
	}
	let key = storage_prefix("Balances", "TotalIssuance");
	let v: Option<String> = rpc
		.request(
			"state_getStorage",
			rpc_params![format!("0x{}", hex::encode(key)), hash],
		)
		.await
		.expect("issuance");
	let v = hex::decode(v.expect("issuance value").trim_start_matches("0x")).expect("hex");
	let issuance = u64::from_le_bytes(v[..8].try_into().expect("u64")) as u128;
	(sum, issuance, keys.len())
}

fn fork_opts(snap: &Path, out: &Path, validators: usize) -> ForkOptions {
	ForkOptions {
		snapshot: snap.to_path_buf(),
		profile: profile(),
		out: out.to_path_buf(),
		validators: Some(validators),
		..Default::default()
	}
}

fn run_fork(opts: &ForkOptions) -> ForkSummary {
	fork(opts, |_| {}).unwrap_or_else(|e| panic!("fork into `{}`: {e}", opts.out.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn fork_runs_like_the_source_from_block_w_with_three_dev_validators() {
	stagenet_test_support::require!(TestChain);
	let dir = out_dir("fidelity");
	let source = SoloNode::start("fork-source", &[]).await;
	let chain = Chain::connect(&source.url())
		.await
		.expect("connect to the source");
	let (bob, charlie, dave, eve, ferdie) = (
		dev::bob(),
		dev::charlie(),
		dev::dave(),
		dev::eve(),
		dev::ferdie(),
	);

	// Traffic on the source: neurons on subnet 1 (tempo 10: an epoch every 10 blocks), stake,
	// an axon, a second subnet, weights.
	sudo(
		&chain,
		"sudo_set_weights_set_rate_limit",
		vec![Value::u128(1), Value::u128(LIMIT as u128)],
	)
	.await;
	call(
		&chain,
		&bob,
		"burned_register",
		vec![Value::u128(1), account(&dave)],
	)
	.await;
	call(
		&chain,
		&charlie,
		"burned_register",
		vec![Value::u128(1), account(&eve)],
	)
	.await;
	call(
		&chain,
		&bob,
		"add_stake",
		vec![account(&dave), Value::u128(1), Value::u128(10 * TAO)],
	)
	.await;
	// Eve's weights are old by the snapshot: older than W, so the fork clips them.
	let eve_weights = call(&chain, &eve, "set_weights", set_weights_args()).await;
	call(
		&chain,
		&dave,
		"serve_axon",
		vec![
			Value::u128(1),
			Value::u128(1),
			Value::u128(0x7f00_0001),
			Value::u128(8091),
			Value::u128(4),
			Value::u128(4),
		],
	)
	.await;
	source
		.wait_for_block(eve_weights + W + 3, Duration::from_secs(120))
		.await;
	let registered_2 = sudo(
		&chain,
		"register_network",
		vec![Value::u128(2), Value::u128(0)],
	)
	.await;
	call(
		&chain,
		&bob,
		"burned_register",
		vec![Value::u128(2), account(&ferdie)],
	)
	.await;
	// Dave sets weights 10 blocks before the snapshot block H.
	let dave_weights = call(&chain, &dave, "set_weights", set_weights_args()).await;
	let h = dave_weights + 10;
	// Subnet 2's next epoch falls 40 blocks after H: a deadline ahead of the snapshot.
	let tempo_2 = h + 40 - registered_2;
	let tempo_set = sudo(
		&chain,
		"sudo_set_tempo",
		vec![Value::u128(2), Value::u128(tempo_2 as u128)],
	)
	.await;
	assert!(
		tempo_set < h,
		"the tempo of subnet 2 was set at #{tempo_set}, after H = #{h}"
	);
	assert!(
		h - registered_2 <= W,
		"subnet 2's last epoch must be within W of H"
	);
	assert!(
		h - eve_weights > W,
		"Eve's weights must be older than W at H"
	);

	// The source runs on past H + SPAN, to compare with the fork.
	source
		.wait_for_block(h + SPAN + 1, Duration::from_secs(180))
		.await;

	// Snapshot at H.
	let snap = dir.join("source.snap");
	let quiet: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(|_: &Progress| {});
	download(
		&DownloadOptions {
			at: Some(BlockRef::Number(h)),
			retry_for: Duration::from_secs(2),
			..DownloadOptions::new(&source.url(), &snap)
		},
		quiet,
	)
	.await
	.expect("snapshot at H");

	// Fork with rebasing (3 validators) and without (1 validator).
	let spec_a = dir.join("fork.json");
	let sum_a = run_fork(&fork_opts(&snap, &spec_a, 3));
	let spec_b = dir.join("fork-no-rebase.json");
	let sum_b = run_fork(&ForkOptions {
		no_rebase: true,
		..fork_opts(&snap, &spec_b, 1)
	});

	// The summary: W, rebased items, Eve's clipped weights, funded accounts, issuance.
	assert_eq!(sum_a.snapshot_block, h);
	assert_eq!(sum_a.warmup, Some(W));
	let last_update = sum_a
		.rebased
		.iter()
		.find(|r| r.item == "Subnets.LastUpdate")
		.expect("LastUpdate rebased");
	assert_eq!(
		last_update.clipped, 1,
		"Eve's weights are older than W: {last_update:?}"
	);
	assert_eq!(last_update.max_age_lost, h - eve_weights);
	assert!(last_update.rebased >= 1, "{last_update:?}");
	let axons = sum_a
		.rebased
		.iter()
		.find(|r| r.item == "Subnets.Axons")
		.expect("Axons rebased");
	assert_eq!((axons.entries, axons.rebased + axons.clipped), (1, 1));
	assert_eq!(sum_a.validators.len(), 3);
	// //Alice, //Bob, //Charlie, //Stagenet, and the 4096 `//stress//{i}` accounts as one group.
	assert_eq!(sum_a.funded.len(), 5);
	let stress = sum_a
		.funded
		.iter()
		.find_map(|f| f.group.as_ref().map(|g| (f, g)))
		.expect("the stress accounts as one group");
	assert_eq!(stress.1.count, 4096);
	assert_eq!(stress.0.amount, stress.1.each * 4096);
	assert!(
		sum_a.funded.iter().any(|f| f.new),
		"//Stagenet is a new account"
	);
	let funded: u128 = sum_a.funded.iter().map(|f| f.amount).sum();
	assert_eq!(sum_a.issuance.len(), 1);
	assert_eq!(sum_a.issuance[0].after, sum_a.issuance[0].before + funded);
	assert_eq!(sum_b.warmup, None);
	assert!(sum_b.rebased.is_empty());
	let subnets = sum_a
		.pallets
		.iter()
		.find(|p| p.pallet == "Subnets")
		.expect("Subnets changes");
	assert!(subnets.changed >= 4, "{subnets:?}");

	// The spec: sealed top level.
	let spec: serde_json::Value =
		serde_json::from_slice(&std::fs::read(&spec_a).expect("read spec")).expect("spec JSON");
	assert_eq!(spec["bootNodes"], serde_json::json!([]));
	assert_eq!(spec["id"], "stagenet_test_fork");
	assert_eq!(spec["protocolId"], "stagenet-test-fork");
	assert_eq!(spec["codeSubstitutes"], serde_json::json!({}));
	assert_eq!(spec["properties"]["stagenetWarmup"], W);
	assert_eq!(spec["properties"]["stagenetSnapshotBlock"], h);
	assert!(
		spec["genesis"]["raw"]["top"]
			.as_object()
			.map(|t| t.len())
			.unwrap_or(0)
			> 50
	);

	// Both forks start; A is run by the three dev authorities.
	let mut net_a = start_network_from_spec("fork-a", &spec_a, 3, 0).await;
	let mut net_b = start_network_from_spec("fork-b", &spec_b, 1, 0).await;
	let fork_a = Chain::connect(&net_a.nodes()[0].rpc_url)
		.await
		.expect("connect to fork A");
	let fork_b = Chain::connect(&net_b.nodes()[0].rpc_url)
		.await
		.expect("connect to fork B");

	// Genesis: the root and hash stagenet computed are the ones the nodes built.
	let genesis_a = fork_a
		.wait_block_hash(0, Duration::from_secs(5))
		.await
		.expect("genesis");
	assert_eq!(format!("{genesis_a:?}"), sum_a.genesis_hash);
	assert_eq!(
		format!("{:?}", fork_a.state_root_at(genesis_a).await.expect("root")),
		sum_a.genesis_state_root
	);
	let genesis_src = chain
		.wait_block_hash(0, Duration::from_secs(5))
		.await
		.expect("source genesis");
	assert_ne!(genesis_a, genesis_src, "the fork must have a new genesis");

	// Issuance: balances sum to total issuance on the source and on the fork.
	let h_hash = chain
		.wait_block_hash(h, Duration::from_secs(5))
		.await
		.expect("H");
	let (src_sum, src_issuance, _) = balances_and_issuance(&source.url(), h_hash).await;
	assert_eq!(
		src_sum, src_issuance,
		"the source's balances do not sum to its issuance"
	);
	let (fork_sum, fork_issuance, accounts) =
		balances_and_issuance(&net_a.nodes()[0].rpc_url, genesis_a).await;
	assert_eq!(
		fork_sum, fork_issuance,
		"after funding, balances ({accounts} accounts) must sum to issuance"
	);
	assert_eq!(fork_issuance, src_issuance + funded);

	// Sealing: a transfer signed for the source is refused by the fork, and the reverse.
	let transfer = || {
		vec![
			Value::unnamed_variant("Id", [Value::from_bytes(dev::bob().public_key().0)]),
			Value::u128(TAO),
		]
	};
	let best_src = chain.best_hash().await.expect("best");
	let signed_src = chain
		.sign_at(
			best_src,
			&dev::alice(),
			"Balances",
			"transfer_keep_alive",
			transfer(),
		)
		.await
		.expect("sign");
	let refused = fork_a.submit_raw(&signed_src).await;
	assert!(
		refused
			.as_ref()
			.is_err_and(|e| e.reason.contains("bad signature") || e.reason.contains("Invalid")),
		"fork accepted a source transaction: {refused:?}"
	);
	let best_a = fork_a.best_hash().await.expect("best");
	let signed_a = fork_a
		.sign_at(
			best_a,
			&dev::alice(),
			"Balances",
			"transfer_keep_alive",
			transfer(),
		)
		.await
		.expect("sign");
	let refused = chain.submit_raw(&signed_a).await;
	assert!(
		refused
			.as_ref()
			.is_err_and(|e| e.reason.contains("bad signature") || e.reason.contains("Invalid")),
		"source accepted a fork transaction: {refused:?}"
	);
	// …and the fork's own transaction is valid there.
	fork_a
		.submit_raw(&signed_a)
		.await
		.expect("the fork accepts its own transaction");

	// Fidelity. The source: Dave's weights open at H - 10 + LIMIT; subnet 2 epochs at H + 40.
	let src_edge = rate_limit_edge(&chain, h - 10 + LIMIT).await;
	assert_eq!(
		src_edge,
		(Err("Subnets::SettingWeightsTooFast".into()), Ok(())),
		"source rate limit"
	);
	let src_epochs_1 = epochs(&chain, 1, h + 1, h + SPAN).await;
	let src_epochs_2 = epochs(&chain, 2, h + 1, h + SPAN).await;
	assert_eq!(src_epochs_2, vec![h + 40], "source deadline");
	assert!(
		src_epochs_1.len() >= 4,
		"subnet 1 epochs on the source: {src_epochs_1:?}"
	);

	// The fork with rebasing: the same, W blocks after its genesis.
	fork_a
		.wait_block_hash(W + SPAN, Duration::from_secs(240))
		.await
		.expect("fork A reaches W + SPAN");
	let edge = rate_limit_edge(&fork_a, W - 10 + LIMIT).await;
	assert_eq!(
		edge,
		(Err("Subnets::SettingWeightsTooFast".into()), Ok(())),
		"fork rate limit at W + (limit - 10)"
	);
	assert_eq!(
		epochs(&fork_a, 2, W + 1, W + SPAN).await,
		vec![W + 40],
		"the deadline 40 blocks ahead falls at W + 40"
	);
	let shifted: Vec<u64> = src_epochs_1.iter().map(|b| b - h + W).collect();
	assert_eq!(
		epochs(&fork_a, 1, W + 1, W + SPAN).await,
		shifted,
		"subnet 1 epochs keep their period and phase"
	);
	assert!(
		epochs(&fork_a, 1, 1, W).await.len() <= 1,
		"no epoch storm during the warm-up"
	);

	// Every validator authored blocks of the fork, and it finalizes.
	for node in net_a.nodes() {
		let log = std::fs::read_to_string(&node.log).expect("node log");
		assert!(
			log.contains("Prepared block for proposing"),
			"{} did not author on the fork",
			node.name
		);
	}
	assert!(fork_a.finalized_number().await.expect("finalized") > W);

	// Without rebasing the same checks fail: the limit is still shut, epochs have stopped.
	fork_b
		.wait_block_hash(W + SPAN, Duration::from_secs(240))
		.await
		.expect("fork B reaches W + SPAN");
	let edge_b = rate_limit_edge(&fork_b, W - 10 + LIMIT).await;
	assert_eq!(
		edge_b.1,
		Err("Subnets::SettingWeightsTooFast".into()),
		"without rebasing the rate limit stays shut"
	);
	assert!(
		epochs(&fork_b, 2, W + 1, W + SPAN).await.is_empty(),
		"without rebasing the deadline does not fall"
	);
	// Subnet 1's epochs stop until the fork's block numbers catch up with the source's
	// (on mainnet: ~7 M blocks); here H is small enough to see them resume past it.
	let epochs_b = epochs(&fork_b, 1, W + 1, W + SPAN).await;
	assert!(
		epochs_b.iter().all(|b| *b > h) && epochs_b != shifted,
		"without rebasing subnet 1 has no epoch before block H = {h}: {epochs_b:?}"
	);
	net_a.shutdown().await.expect("shutdown");
	net_b.shutdown().await.expect("shutdown");

	// A runtime override boots and migrates at block 1, as on an upgrade.
	let spec_c = dir.join("fork-upgrade-ok.json");
	let code = test_chain_dir().join("runtimes/upgrade-ok.compact.compressed.wasm");
	let sum_c = run_fork(&ForkOptions {
		code: Some(code),
		..fork_opts(&snap, &spec_c, 1)
	});
	assert!(sum_c.code_overridden);
	assert_eq!(sum_c.runtime.spec_version, 101);
	let mut net_c = start_network_from_spec("fork-c", &spec_c, 1, 0).await;
	let fork_c = Chain::connect(&net_c.nodes()[0].rpc_url)
		.await
		.expect("connect to fork C");
	let b1 = fork_c
		.wait_block_hash(1, Duration::from_secs(60))
		.await
		.expect("block 1");
	// The migration ran in block 1 (before `frame_system` initialised it, so it saw block 0
	// and its event was not deposited: frame_system drops events at block 0).
	let upgraded_at = fork_c
		.storage_value_at::<u64>(b1, "Subnets", "UpgradedAt", vec![])
		.await
		.expect("UpgradedAt");
	assert_eq!(upgraded_at, Some(1), "the migration runs at block 1");
	let genesis_c = fork_c
		.wait_block_hash(0, Duration::from_secs(5))
		.await
		.expect("genesis");
	let before = fork_c
		.storage_value_at::<u32>(genesis_c, "Subnets", "MigrationRunCount", vec![])
		.await
		.expect("count");
	let b3 = fork_c
		.wait_block_hash(3, Duration::from_secs(60))
		.await
		.expect("block 3");
	let after = fork_c
		.storage_value_at::<u32>(b3, "Subnets", "MigrationRunCount", vec![])
		.await
		.expect("count");
	assert_eq!(
		(before.unwrap_or(0), after),
		(0, Some(1)),
		"the migration ran exactly once"
	);
	let flag = fork_c
		.storage_value_at::<bool>(
			b1,
			"Subnets",
			"HasMigrationRun",
			vec![Value::from_bytes(b"normalize_weights_v2")],
		)
		.await
		.expect("flag");
	assert_eq!(flag, Some(true));
	assert_eq!(fork_c.spec_version_at(b1).await.expect("version"), 101);
	net_c.shutdown().await.expect("shutdown");
}
