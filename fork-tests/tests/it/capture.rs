//! `stagenet capture` against the test chain: a range in which a transfer, a registration,
//! weights that succeed and fail, and a runtime upgrade happened is captured, and every row is
//! checked against what the chain itself reports (block hashes, `System::BlockWeight`, the
//! events as subxt decodes them, the dispatch errors the submitting client saw). Then the ways
//! a capture can be cut short: an existing output, a partial capture resumed, the node killed
//! mid-way (and back, or gone), a response over the node's limit.

use stagenet_chain::client::{Chain, Outcome};
use stagenet_fork_tests::{
	harness::{repo_root, runtime_wasm, start_network, wait_for},
	solo::SoloNode,
};
use stagenet_capture::{
	capture, read_capture, Capture, CaptureError, CaptureOptions, CaptureProgress, CaptureSummary,
	StoredBlock, StoredExtrinsic,
};
use std::{
	path::{Path, PathBuf},
	sync::atomic::{AtomicBool, Ordering},
	time::Duration,
};
use subxt::{
	config::{RpcConfigFor, SubstrateExtrinsicParamsBuilder},
	dynamic::{At, Value},
	events::Phase,
	rpcs::LegacyRpcMethods,
	transactions::TransactionStatus,
	utils::{AccountId32, H256},
	SubstrateConfig,
};
use subxt_signer::sr25519::{dev, Keypair};

const TAO: u128 = 1_000_000_000;
/// Longest a capture of a few blocks may take, retries included.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(180);
const SECOND: Duration = Duration::from_secs(1);

/// A fresh directory for the outputs of test `name`.
fn out_dir(name: &str) -> PathBuf {
	let dir = repo_root()
		.join("target/test-runs")
		.join(format!("capture-{name}-{}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create `{}`: {e}", dir.display()));
	dir
}

/// Runs a capture, bounded by [`CAPTURE_TIMEOUT`].
async fn run(
	opts: &CaptureOptions,
	progress: &dyn Fn(CaptureProgress),
) -> Result<CaptureSummary, CaptureError> {
	tokio::time::timeout(CAPTURE_TIMEOUT, capture(opts, progress))
		.await
		.unwrap_or_else(|_| {
			panic!(
				"capture #{}..=#{} did not end within {CAPTURE_TIMEOUT:?}",
				opts.from, opts.to
			)
		})
}

async fn read(path: &Path) -> Capture {
	read_capture(path)
		.await
		.unwrap_or_else(|e| panic!("read `{}`: {e}", path.display()))
}

fn ss58(k: &Keypair) -> String {
	AccountId32(k.public_key().0).to_string()
}

fn h256(hash: &str) -> H256 {
	let bytes = hex::decode(hash.trim_start_matches("0x")).expect("hex block hash");
	H256::from_slice(&bytes)
}

async fn wait_for_best(chain: &Chain, n: u64) {
	wait_for(
		&format!("best block #{n}"),
		Duration::from_secs(60),
		SECOND,
		|| async {
			let best = chain.best_number().await.map_err(|e| e.to_string())?;
			if best >= n {
				Ok(())
			} else {
				Err(format!("best #{best}"))
			}
		},
	)
	.await;
}

async fn subnets_call(chain: &Chain, signer: &Keypair, call: &str, args: Vec<Value>) -> Outcome {
	chain
		.signed(signer, "Subnets", call, args)
		.await
		.unwrap_or_else(|e| panic!("submit Subnets::{call}: {e}"))
}

/// The only extrinsic of `block` calling `pallet::call` signed by `signer`.
fn the_extrinsic<'a>(
	capture: &'a Capture,
	block: u64,
	pallet: &str,
	call: &str,
	signer: &Keypair,
) -> &'a StoredExtrinsic {
	let b = capture
		.blocks
		.iter()
		.find(|b| b.number == block)
		.unwrap_or_else(|| panic!("block #{block} not captured"));
	let found: Vec<_> = b
		.extrinsics
		.iter()
		.filter(|x| {
			x.pallet.as_deref() == Some(pallet)
				&& x.call.as_deref() == Some(call)
				&& x.signer.as_deref() == Some(ss58(signer).as_str())
		})
		.collect();
	assert_eq!(found.len(), 1, "{pallet}::{call} in block #{block}: {b:#?}");
	found[0]
}

/// `(phase, extrinsic index, pallet, event)` of every event of block `b`, as subxt decodes
/// them with the runtime that executed the block (its parent's).
async fn chain_events(
	chain: &Chain,
	rpc: &LegacyRpcMethods<RpcConfigFor<SubstrateConfig>>,
	b: &StoredBlock,
) -> Vec<(String, Option<u32>, String, String)> {
	let key = subxt::ext::frame_decode::storage::encode_storage_key_prefix("System", "Events");
	let bytes = rpc
		.state_get_storage(&key, Some(h256(&b.hash)))
		.await
		.expect("System::Events")
		.unwrap_or_default();
	let executed_by = chain
		.client()
		.at_block(h256(&b.parent_hash))
		.await
		.expect("client at the parent");
	let events = executed_by.events().from_bytes(bytes);
	events
		.iter()
		.map(|e| {
			let e = e.expect("subxt decodes the event");
			let (phase, index) = match e.phase() {
				Phase::Initialization => ("initialization", None),
				Phase::ApplyExtrinsic(i) => ("apply_extrinsic", Some(i)),
				Phase::Finalization => ("finalization", None),
			};
			(
				phase.to_string(),
				index,
				e.pallet_name().to_string(),
				e.event_name().to_string(),
			)
		})
		.collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn capture_records_outcomes_events_and_weights_as_the_chain_reported() {
	stagenet_test_support::require!(TestChain);
	let net = start_network("capture", 1).await;
	let url = net.nodes()[0].rpc_url.clone();
	let chain = Chain::connect(&url).await.expect("connect");
	let rpc = LegacyRpcMethods::<RpcConfigFor<SubstrateConfig>>::new(
		subxt::rpcs::RpcClient::from_insecure_url(&url)
			.await
			.expect("rpc client"),
	);
	let (alice, bob, charlie) = (dev::alice(), dev::bob(), dev::charlie());

	let transfer = chain
		.signed(
			&alice,
			"Balances",
			"transfer_keep_alive",
			vec![
				Value::unnamed_variant("Id", [Value::from_bytes(charlie.public_key().0)]),
				Value::u128(5 * TAO),
			],
		)
		.await
		.expect("transfer");
	assert!(transfer.succeeded(), "transfer: {:?}", transfer.error);
	let register = subnets_call(
		&chain,
		&bob,
		"burned_register",
		vec![Value::u128(1), Value::from_bytes(bob.public_key().0)],
	)
	.await;
	assert!(
		register.succeeded(),
		"burned_register: {:?}",
		register.error
	);
	let weights = || {
		vec![
			Value::u128(1),
			Value::unnamed_composite([Value::u128(0)]),
			Value::unnamed_composite([Value::u128(100)]),
		]
	};
	let weights_ok = subnets_call(&chain, &bob, "set_weights", weights()).await;
	assert!(
		weights_ok.succeeded(),
		"set_weights: {:?}",
		weights_ok.error
	);
	let too_fast = subnets_call(&chain, &bob, "set_weights", weights()).await;
	assert_eq!(
		too_fast.error.as_deref(),
		Some("Subnets::SettingWeightsTooFast")
	);
	let not_registered = subnets_call(&chain, &charlie, "set_weights", weights()).await;
	assert_eq!(
		not_registered.error.as_deref(),
		Some("Subnets::NotRegistered")
	);
	// A runtime upgrade inside the range: blocks decode with two metadata versions.
	let upgrade = chain
		.sudo_set_code(&runtime_wasm("upgrade-ok"))
		.await
		.expect("sudo(set_code)");
	let from = transfer.block.number - 1;
	let to = upgrade.number + 2;
	wait_for_best(&chain, to).await;

	let dir = out_dir("outcomes");
	let out = dir.join("capture.db");
	let opts = CaptureOptions::new(&url, from, to, &out);
	let summary = run(&opts, &|_| {}).await.expect("capture");
	let total = to - from + 1;
	assert_eq!(
		(summary.blocks, summary.written, summary.skipped),
		(total, total, 0)
	);
	assert_eq!(summary.failed_extrinsics, 2, "{summary:?}");
	let captured = read(&out).await;
	assert_eq!(captured.blocks.len() as u64, total);
	assert_eq!(captured.meta.url, url);
	assert_eq!(
		(captured.meta.range_from, captured.meta.range_to),
		(from, to)
	);

	// Every block against the chain: hash, weight per class, length, events, outcomes.
	let mut extrinsics = 0;
	let mut events = 0;
	for b in &captured.blocks {
		let n = b.number;
		let hash = chain
			.block_hash(n)
			.await
			.expect("hash")
			.expect("block exists");
		assert_eq!(h256(&b.hash), hash, "hash of #{n}");
		let ref_times = chain.block_weight_at(hash).await.expect("BlockWeight");
		assert_eq!(
			[
				b.weight.normal.ref_time as u128,
				b.weight.operational.ref_time as u128,
				b.weight.mandatory.ref_time as u128,
			],
			ref_times,
			"System::BlockWeight ref_time of #{n}"
		);
		let stored = chain
			.storage_value_at::<Value>(hash, "System", "BlockWeight", vec![])
			.await
			.expect("BlockWeight")
			.expect("BlockWeight present");
		for (class, w) in [
			("normal", b.weight.normal),
			("operational", b.weight.operational),
			("mandatory", b.weight.mandatory),
		] {
			let proof = stored.at(class).at("proof_size").and_then(|v| v.as_u128());
			assert_eq!(
				proof,
				Some(w.proof_size as u128),
				"{class}.proof_size of #{n}"
			);
		}
		assert!(
			b.weight.mandatory.ref_time > 0,
			"#{n}: inherents weigh something"
		);
		assert_eq!(
			b.length,
			b.extrinsics.iter().map(|x| x.raw.len() as u64).sum::<u64>(),
			"length of #{n}"
		);

		let reported = chain_events(&chain, &rpc, b).await;
		let ours: Vec<_> = b
			.events
			.iter()
			.map(|e| {
				(
					e.phase.clone(),
					e.extrinsic_index,
					e.pallet.clone(),
					e.name.clone(),
				)
			})
			.collect();
		assert_eq!(ours, reported, "events of #{n}");
		for x in &b.extrinsics {
			let of_x: Vec<_> = reported.iter().filter(|e| e.1 == Some(x.index)).collect();
			assert_eq!(
				x.event_count as usize,
				of_x.len(),
				"events of #{n}-{}",
				x.index
			);
			let outcome = of_x
				.iter()
				.find(|e| {
					e.2 == "System" && (e.3 == "ExtrinsicSuccess" || e.3 == "ExtrinsicFailed")
				})
				.map(|e| e.3 == "ExtrinsicSuccess");
			assert_eq!(x.success, outcome, "outcome of #{n}-{}", x.index);
			assert_eq!(
				x.error.is_some(),
				outcome == Some(false),
				"#{n}-{}",
				x.index
			);
			assert!(
				x.decode_error.is_none(),
				"#{n}-{}: {:?}",
				x.index,
				x.decode_error
			);
			assert!(
				x.weight.is_some() && x.class.is_some(),
				"#{n}-{} dispatch info",
				x.index
			);
		}
		// Every block starts with the timestamp inherent.
		let first = &b.extrinsics[0];
		assert_eq!(
			(
				first.pallet.as_deref(),
				first.call.as_deref(),
				first.kind.as_deref()
			),
			(Some("Timestamp"), Some("set"), Some("bare"))
		);
		assert_eq!(
			(first.signer.as_deref(), first.class.as_deref()),
			(None, Some("mandatory"))
		);
		extrinsics += b.extrinsics.len() as u64;
		events += b.events.len() as u64;
	}
	assert_eq!((summary.extrinsics, summary.events), (extrinsics, events));

	// The extrinsics we submitted: call, signer, nonce, era, tip, outcome.
	let x = the_extrinsic(
		&captured,
		transfer.block.number,
		"Balances",
		"transfer_keep_alive",
		&alice,
	);
	assert_eq!(x.success, Some(true));
	assert_eq!(
		(x.nonce, x.era.as_deref(), x.tip.as_deref()),
		(Some(0), Some("immortal"), Some("0"))
	);
	assert_eq!(x.kind.as_deref(), Some("signed"));
	let args: serde_json::Value =
		serde_json::from_str(x.args.as_deref().expect("args")).expect("JSON args");
	assert_eq!(
		args["dest"]["Id"],
		serde_json::json!(ss58(&charlie)),
		"{args}"
	);
	assert_eq!(args["value"], serde_json::json!(5 * TAO as u64), "{args}");
	let block = captured
		.blocks
		.iter()
		.find(|b| b.number == transfer.block.number)
		.expect("block");
	let event = block
		.events
		.iter()
		.find(|e| {
			e.extrinsic_index == Some(x.index) && e.pallet == "Balances" && e.name == "Transfer"
		})
		.expect("Balances::Transfer");
	let fields: serde_json::Value = serde_json::from_str(&event.fields).expect("JSON fields");
	assert_eq!(fields["from"], serde_json::json!(ss58(&alice)), "{fields}");
	assert_eq!(fields["to"], serde_json::json!(ss58(&charlie)), "{fields}");

	let x = the_extrinsic(
		&captured,
		register.block.number,
		"Subnets",
		"burned_register",
		&bob,
	);
	assert_eq!((x.success, x.nonce), (Some(true), Some(0)));
	let x = the_extrinsic(
		&captured,
		weights_ok.block.number,
		"Subnets",
		"set_weights",
		&bob,
	);
	assert_eq!(
		(x.success, x.error.as_deref(), x.nonce),
		(Some(true), None, Some(1))
	);
	assert_eq!(
		(x.class.as_deref(), x.pays_fee),
		(Some("normal"), Some(true))
	);
	let x = the_extrinsic(
		&captured,
		too_fast.block.number,
		"Subnets",
		"set_weights",
		&bob,
	);
	assert_eq!(x.success, Some(false));
	assert_eq!(
		x.error, too_fast.error,
		"the module error the chain reported"
	);
	assert_eq!(x.nonce, Some(2));
	let x = the_extrinsic(
		&captured,
		not_registered.block.number,
		"Subnets",
		"set_weights",
		&charlie,
	);
	assert_eq!(x.success, Some(false));
	assert_eq!(
		x.error, not_registered.error,
		"the module error the chain reported"
	);

	// The block with `set_code` ran on the old runtime; the next one on the new.
	let spec_of = |n: u64| {
		captured
			.blocks
			.iter()
			.find(|b| b.number == n)
			.map(|b| b.spec_version)
	};
	assert_eq!(spec_of(upgrade.number), Some(100));
	assert_eq!(spec_of(upgrade.number + 1), Some(101));
	the_extrinsic(
		&captured,
		upgrade.number,
		"Sudo",
		"sudo_unchecked_weight",
		&alice,
	);

	// An existing output is refused and left as it was.
	let err = run(&opts, &|_| {})
		.await
		.expect_err("existing output refused");
	assert!(matches!(err, CaptureError::OutputExists { .. }), "{err}");
	assert!(err.is_bad_input(), "{err}");
	assert!(err.to_string().contains("`--force`"), "{err}");
	assert_eq!(read(&out).await, captured);
	// `--force` replaces it with the same rows.
	let forced = CaptureOptions {
		force: true,
		..opts.clone()
	};
	run(&forced, &|_| {}).await.expect("capture with --force");
	assert_eq!(read(&out).await.blocks, captured.blocks);

	// A partial capture resumed over the whole range ends with the same rows.
	let part = dir.join("part.db");
	let mid = from + total / 2;
	run(&CaptureOptions::new(&url, from, mid, &part), &|_| {})
		.await
		.expect("first part");
	let resumed = CaptureOptions {
		resume: true,
		..CaptureOptions::new(&url, from, to, &part)
	};
	let summary = run(&resumed, &|_| {}).await.expect("resume");
	assert_eq!(summary.skipped, mid - from + 1, "{summary:?}");
	assert_eq!(summary.written, to - mid, "{summary:?}");
	let part = read(&part).await;
	assert_eq!(part.blocks, captured.blocks);
	assert_eq!((part.meta.range_from, part.meta.range_to), (from, to));
	drop(net);
}

/// The pid of the `SoloNode` started as `name` by this test process.
fn solo_pid(name: &str) -> u32 {
	let marker = format!("STAGENET_RUN=solo-{name}-{}", std::process::id());
	std::fs::read_dir("/proc")
		.expect("/proc")
		.flatten()
		.find_map(|e| {
			let pid: u32 = e.file_name().to_str()?.parse().ok()?;
			let env = std::fs::read(e.path().join("environ")).ok()?;
			env.split(|b| *b == 0)
				.any(|kv| kv == marker.as_bytes())
				.then_some(pid)
		})
		.unwrap_or_else(|| panic!("no process with {marker}"))
}

/// Kills `pid` with SIGKILL and returns once the signal is sent.
fn kill_now(pid: u32) {
	let status = std::process::Command::new("kill")
		.args(["-KILL", &pid.to_string()])
		.status()
		.expect("run kill");
	assert!(status.success(), "kill -KILL {pid}");
}

/// Submits `System::remark` with `len` bytes from Alice and returns the number of the block
/// that includes it. (The test's `Chain` cannot be used: it reads the whole block back, which
/// is what the node refuses here.)
async fn big_remark(chain: &Chain, len: usize) -> u64 {
	let best = chain.best_hash().await.expect("best");
	let at = chain.client().at_block(best).await.expect("client at best");
	let payload = subxt::dynamic::transaction("System", "remark", (vec![7u8; len],));
	let params = SubstrateExtrinsicParamsBuilder::<SubstrateConfig>::new()
		.immortal()
		.build();
	let tx = at
		.transactions()
		.create_signed(&payload, &dev::alice(), params)
		.await
		.expect("sign the remark");
	let mut progress = tx.submit_and_watch().await.expect("submit the remark");
	let included = tokio::time::timeout(Duration::from_secs(60), async {
		while let Some(status) = progress.next().await {
			match status.expect("remark status") {
				TransactionStatus::InBestBlock(b) | TransactionStatus::InFinalizedBlock(b) => {
					return b.block_hash();
				}
				TransactionStatus::Invalid { message }
				| TransactionStatus::Dropped { message }
				| TransactionStatus::Error { message } => panic!("remark: {message}"),
				_ => {}
			}
		}
		panic!("the node stopped reporting the remark's status");
	})
	.await
	.expect("remark included within 60 s");
	let best = chain.best_number().await.expect("best number");
	for n in (0..=best).rev() {
		if chain.block_hash(n).await.expect("hash") == Some(included) {
			return n;
		}
	}
	panic!("block {included:?} of the remark is not on the best chain");
}

#[tokio::test(flavor = "multi_thread")]
async fn capture_survives_a_node_restart_resumes_after_it_dies_and_names_response_limits() {
	stagenet_test_support::require!(TestChain);
	let name = "capture-drops";
	let mut node = SoloNode::start(name, &["--rpc-max-response-size", "1"]).await;
	node.wait_for_block(12, Duration::from_secs(60)).await;
	let url = node.url();
	let dir = out_dir("drops");
	let (from, to) = (1, 12);
	let reference = dir.join("reference.db");
	run(&CaptureOptions::new(&url, from, to, &reference), &|_| {})
		.await
		.expect("reference capture");
	let reference = read(&reference).await;

	// The node is killed after two blocks and comes back: the capture reconnects and ends.
	let killed = AtomicBool::new(false);
	let pid = solo_pid(name);
	let kill_after_two = |p: CaptureProgress| {
		if p.written == 2 && !killed.swap(true, Ordering::SeqCst) {
			kill_now(pid);
		}
	};
	let restarted = dir.join("restarted.db");
	let opts = CaptureOptions {
		concurrency: 1,
		..CaptureOptions::new(&url, from, to, &restarted)
	};
	let restart = async {
		while !killed.load(Ordering::SeqCst) {
			tokio::time::sleep(Duration::from_millis(20)).await;
		}
		node.restart().await;
	};
	let (summary, ()) = tokio::join!(run(&opts, &kill_after_two), restart);
	let summary = summary.expect("the capture rides out a node restart");
	assert!(
		killed.load(Ordering::SeqCst),
		"the node was killed mid-capture"
	);
	assert_eq!(summary.blocks, to - from + 1);
	assert_eq!(read(&restarted).await.blocks, reference.blocks);

	// Killed for good: the capture stops with what it saved and says `--resume` continues.
	let killed = AtomicBool::new(false);
	let pid = solo_pid(name);
	let kill_after_two = |p: CaptureProgress| {
		if p.written == 2 && !killed.swap(true, Ordering::SeqCst) {
			kill_now(pid);
		}
	};
	let lost = dir.join("lost.db");
	let opts = CaptureOptions {
		concurrency: 1,
		retries: 1,
		..CaptureOptions::new(&url, from, to, &lost)
	};
	let err = run(&opts, &kill_after_two).await.expect_err("node gone");
	eprintln!("capture stopped as expected: {err}");
	let CaptureError::ConnectionLost { done, .. } = &err else {
		panic!("expected a lost connection, got: {err}");
	};
	assert!(*done >= 2, "{err}");
	assert!(err.is_infrastructure() && err.is_resumable(), "{err}");
	assert!(err.to_string().contains("`--resume`"), "{err}");
	node.restart().await;
	let summary = run(
		&CaptureOptions {
			resume: true,
			..CaptureOptions::new(&url, from, to, &lost)
		},
		&|_| {},
	)
	.await
	.expect("resume after the node is back");
	assert_eq!(summary.skipped, *done, "{summary:?}");
	assert_eq!(read(&lost).await.blocks, reference.blocks);

	// A block whose `chain_getBlock` answer is over the node's 1 MB limit.
	let chain = Chain::connect(&url).await.expect("connect");
	let big = big_remark(&chain, 700 * 1024).await;
	let err = run(
		&CaptureOptions::new(&url, big, big, dir.join("big.db")),
		&|_| {},
	)
	.await
	.expect_err("response over the node's limit");
	eprintln!("capture stopped as expected: {err}");
	assert!(
		matches!(err, CaptureError::ResponseTooLarge { .. }),
		"{err}"
	);
	let message = err.to_string();
	assert!(message.contains(&format!("block #{big}")), "{message}");
	assert!(message.contains("--rpc-max-response-size"), "{message}");
	assert!(err.is_infrastructure(), "{err}");
}
