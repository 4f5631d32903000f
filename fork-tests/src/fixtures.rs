//! Chains the tests start from: a sealed fork of a test chain, as `stagenet fork` makes it.

use crate::{harness::repo_root, solo::SoloNode};
use stagenet_fork::{fork, ForkOptions};
use stagenet_snapshot::{download, DownloadOptions, Progress};
use std::{path::PathBuf, sync::Arc, time::Duration};

/// Starts a dev node of the test chain, lets it produce 6 blocks, snapshots its finalized
/// state, stops it, and forks the snapshot with `fork-tests/profiles/test-chain.yaml` for
/// `validators` dev validators. Returns the raw spec at
/// `target/test-runs/<name>/fork.spec.json`.
pub async fn forked_test_chain_spec(name: &str, validators: usize) -> PathBuf {
	let dir = repo_root().join("target/test-runs").join(name);
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir)
		.unwrap_or_else(|e| panic!("cannot create `{}`: {e}", dir.display()));
	let source = SoloNode::start(&format!("{name}-source"), &[]).await;
	source.wait_for_block(6, Duration::from_secs(120)).await;
	let snap = dir.join("source.snap");
	let quiet: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(|_: &Progress| {});
	download(
		&DownloadOptions {
			retry_for: Duration::from_secs(2),
			..DownloadOptions::new(&source.url(), &snap)
		},
		quiet,
	)
	.await
	.unwrap_or_else(|e| panic!("snapshot of `{}`: {e}", source.url()));
	drop(source);
	let out = dir.join("fork.spec.json");
	fork(
		&ForkOptions {
			snapshot: snap,
			profile: repo_root().join("fork-tests/profiles/test-chain.yaml"),
			out: out.clone(),
			validators: Some(validators),
			force: true,
			..Default::default()
		},
		|_| {},
	)
	.unwrap_or_else(|e| panic!("fork into `{}`: {e}", out.display()));
	out
}

/// Subnets and neurons per subnet that [`traffic_snapshot`] creates.
const TRAFFIC_SUBNETS: u16 = 2;
const TRAFFIC_NEURONS: u16 = 16;

/// The source of the rehearsal scenarios: a dev node of the test chain that ran with traffic
/// (subnets 2 and 3 populated by `sudo(Subnets::populate)` with neurons, stake, weights and
/// axons; transfers between dev accounts), snapshotted at its finalized head into `out`.
/// Returns the snapshot's block number.
pub async fn traffic_snapshot(out: &std::path::Path) -> u64 {
	use stagenet_chain::client::Chain;
	use subxt::dynamic::Value;
	use subxt_signer::sr25519::dev;
	let source = SoloNode::start("traffic-source", &[]).await;
	let chain = Chain::connect(&source.url())
		.await
		.unwrap_or_else(|e| panic!("connect to the traffic source: {e}"));
	chain
		.sudo(
			"Subnets",
			"populate",
			vec![
				Value::u128(2),
				Value::u128(TRAFFIC_SUBNETS as u128),
				Value::u128(TRAFFIC_NEURONS as u128),
				Value::u128(10),
			],
		)
		.await
		.unwrap_or_else(|e| panic!("sudo(Subnets::populate): {e}"));
	for (from, to) in [(dev::bob(), dev::dave()), (dev::charlie(), dev::eve())] {
		let outcome = chain
			.signed(
				&from,
				"Balances",
				"transfer_keep_alive",
				vec![
					Value::unnamed_variant("Id", [Value::from_bytes(to.public_key().0)]),
					Value::u128(1_000_000_000),
				],
			)
			.await
			.unwrap_or_else(|e| panic!("transfer: {e}"));
		assert!(outcome.succeeded(), "transfer failed: {:?}", outcome.error);
	}
	let best = chain
		.best_number()
		.await
		.unwrap_or_else(|e| panic!("best block: {e}"));
	source
		.wait_for_block(best + 3, Duration::from_secs(60))
		.await;
	let quiet: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(|_: &Progress| {});
	if let Some(dir) = out.parent() {
		std::fs::create_dir_all(dir)
			.unwrap_or_else(|e| panic!("cannot create `{}`: {e}", dir.display()));
	}
	let summary = download(
		&DownloadOptions {
			force: true,
			retry_for: Duration::from_secs(5),
			..DownloadOptions::new(&source.url(), out)
		},
		quiet,
	)
	.await
	.unwrap_or_else(|e| panic!("snapshot of the traffic source: {e}"));
	drop(source);
	summary.header.block.map(|b| b.number).unwrap_or_default()
}

/// [`traffic_snapshot`] into `target/scenarios/traffic.snap`, made once per test process.
pub async fn scenario_source() -> PathBuf {
	static MADE: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
	MADE.get_or_init(|| async {
		let out = repo_root().join("target/scenarios/traffic.snap");
		traffic_snapshot(&out).await;
		out
	})
	.await
	.clone()
}

/// What [`replay_source`] made: a snapshot of a test chain and a capture of the traffic that
/// followed it.
#[derive(Debug, Clone)]
pub struct ReplaySource {
	/// The state at block H (finalized, after the setup).
	pub snapshot: PathBuf,
	/// Blocks `from..=to` (H+1 onwards) captured by `stagenet_snapshot::capture`.
	pub capture: PathBuf,
	/// First captured block (H+1).
	pub from: u64,
	/// Last captured block.
	pub to: u64,
	/// Captured `Subnets.set_weights` that name a uid twice: successes on the baseline runtime,
	/// `Subnets::DuplicateUids` on the upgrade variants.
	pub expected_duplicate_dests: usize,
	/// Signed extrinsics in the capture (all of them decode and replay).
	pub replayed_signed: usize,
}

/// The subnet the replay traffic uses (subnet 1 exists at genesis, without neurons).
const REPLAY_NETUID: u128 = 1;
/// Hotkeys registered on [`REPLAY_NETUID`] by the setup: uids 0..4.
const REPLAY_HOTKEYS: usize = 4;
/// One TAO in rao.
const TAO: u128 = 1_000_000_000;

/// One signed call of the replay traffic and the outcome it must have on the source.
struct Sent {
	signer: subxt_signer::sr25519::Keypair,
	pallet: &'static str,
	call: &'static str,
	args: Vec<subxt::dynamic::Value>,
	/// `None`: success; `Some(e)`: the dispatch error must contain `e`.
	expect: Option<&'static str>,
}

/// The source of the replay tests, made in `dir`: a dev node of the test chain is set up
/// (subnets 2 and 3 populated, `set_weights` not rate-limited on subnet 1, four dev-derived
/// hotkeys registered there by Alice with `burned_register` and funded), its finalized state
/// is snapshotted at block H, then it runs mixed traffic over several blocks, each outcome
/// deterministic (independent of timing): transfers (one failing for lack of funds), stake
/// added, stake removed by a non-owner (`Subnets::NotOwner`), weights with distinct uids, with
/// a uid named twice (a success on the baseline) and with an out-of-range uid
/// (`Subnets::UidOutOfRange`), a registration of a registered hotkey
/// (`Subnets::HotkeyAlreadyRegistered`) and a sudo call by Alice. Blocks H+1 to the last one
/// with traffic are captured; the node is stopped.
pub async fn replay_source(dir: &std::path::Path) -> ReplaySource {
	use stagenet_chain::client::Chain;
	use subxt::dynamic::Value;
	use subxt_signer::{
		sr25519::{dev, Keypair},
		SecretUri,
	};
	std::fs::create_dir_all(dir)
		.unwrap_or_else(|e| panic!("cannot create `{}`: {e}", dir.display()));
	let source = SoloNode::start("replay-source", &[]).await;
	let chain = Chain::connect(&source.url())
		.await
		.unwrap_or_else(|e| panic!("connect to the replay source: {e}"));
	let id = |k: &Keypair| Value::from_bytes(k.public_key().0);
	let address = |k: &Keypair| Value::unnamed_variant("Id", [Value::from_bytes(k.public_key().0)]);
	let hot: Vec<Keypair> = (0..REPLAY_HOTKEYS)
		.map(|i| {
			let uri: SecretUri = format!("//Alice//replay-hot-{i}")
				.parse()
				.unwrap_or_else(|e| panic!("secret URI: {e:?}"));
			Keypair::from_uri(&uri).unwrap_or_else(|e| panic!("hotkey {i}: {e}"))
		})
		.collect();

	// Setup, all of it before the snapshot.
	chain
		.sudo(
			"Subnets",
			"populate",
			vec![
				Value::u128(2),
				Value::u128(2),
				Value::u128(8),
				Value::u128(10),
			],
		)
		.await
		.unwrap_or_else(|e| panic!("sudo(Subnets::populate): {e}"));
	chain
		.sudo(
			"Subnets",
			"sudo_set_weights_set_rate_limit",
			vec![Value::u128(REPLAY_NETUID), Value::u128(0)],
		)
		.await
		.unwrap_or_else(|e| panic!("sudo(Subnets::sudo_set_weights_set_rate_limit): {e}"));
	for (i, h) in hot.iter().enumerate() {
		for (pallet, call, args) in [
			(
				"Subnets",
				"burned_register",
				vec![Value::u128(REPLAY_NETUID), id(h)],
			),
			(
				"Balances",
				"transfer_keep_alive",
				vec![address(h), Value::u128(100 * TAO)],
			),
		] {
			let outcome = chain
				.signed(&dev::alice(), pallet, call, args)
				.await
				.unwrap_or_else(|e| panic!("setup {pallet}::{call} of hotkey {i}: {e}"));
			assert!(
				outcome.succeeded(),
				"setup {pallet}::{call} of hotkey {i} failed: {:?}",
				outcome.error
			);
		}
	}
	let setup_end = chain
		.best_number()
		.await
		.unwrap_or_else(|e| panic!("best block: {e}"));
	let snapshot = dir.join("source.snap");
	let h = finalized_snapshot(&chain, setup_end, &snapshot, "the replay source").await;

	// The traffic, after H: rounds of calls by distinct signers, submitted together.
	let [hot0, hot1, hot2, hot3] = [0, 1, 2, 3].map(|i| hot[i].clone());
	let netuid = || Value::u128(REPLAY_NETUID);
	let uids = |u: &[u128]| Value::unnamed_composite(u.iter().map(|x| Value::u128(*x)));
	let sent = |signer: Keypair,
	            pallet: &'static str,
	            call: &'static str,
	            args: Vec<Value>,
	            expect: Option<&'static str>| Sent {
		signer,
		pallet,
		call,
		args,
		expect,
	};
	let rounds: Vec<Vec<Sent>> = vec![
		vec![
			sent(
				dev::bob(),
				"Balances",
				"transfer_keep_alive",
				vec![address(&dev::ferdie()), Value::u128(TAO)],
				None,
			),
			// Dave has the dev balance (a million TAO, untouched by the fork profile): five
			// million cannot be transferred, on the source or the fork.
			sent(
				dev::dave(),
				"Balances",
				"transfer_keep_alive",
				vec![address(&dev::eve()), Value::u128(5_000_000 * TAO)],
				Some(""),
			),
			sent(
				dev::charlie(),
				"Subnets",
				"add_stake",
				vec![id(&hot0), netuid(), Value::u128(2 * TAO)],
				None,
			),
			sent(
				dev::eve(),
				"Subnets",
				"remove_stake",
				vec![id(&hot0), netuid(), Value::u128(1)],
				Some("NotOwner"),
			),
			sent(
				hot0.clone(),
				"Subnets",
				"set_weights",
				vec![netuid(), uids(&[0, 1, 2]), uids(&[10, 20, 30])],
				None,
			),
			sent(
				hot1.clone(),
				"Subnets",
				"set_weights",
				vec![netuid(), uids(&[0, 0, 1]), uids(&[1, 2, 3])],
				None,
			),
		],
		vec![
			sent(
				hot2.clone(),
				"Subnets",
				"set_weights",
				vec![netuid(), uids(&[0, 200]), uids(&[1, 1])],
				Some("UidOutOfRange"),
			),
			sent(
				dev::bob(),
				"Subnets",
				"burned_register",
				vec![netuid(), id(&hot0)],
				Some("HotkeyAlreadyRegistered"),
			),
			sent(
				dev::ferdie(),
				"Balances",
				"transfer_keep_alive",
				vec![address(&dev::bob()), Value::u128(TAO)],
				None,
			),
			sent(
				hot0.clone(),
				"Subnets",
				"set_weights",
				vec![netuid(), uids(&[1, 1]), uids(&[5, 5])],
				None,
			),
			sent(
				hot3.clone(),
				"Subnets",
				"set_weights",
				vec![netuid(), uids(&[3, 2, 1]), uids(&[1, 2, 3])],
				None,
			),
		],
		vec![
			sent(
				hot1.clone(),
				"Subnets",
				"set_weights",
				vec![netuid(), uids(&[2, 3]), uids(&[7, 7])],
				None,
			),
			sent(
				hot2.clone(),
				"Subnets",
				"set_weights",
				vec![netuid(), uids(&[2, 2, 2]), uids(&[1, 1, 1])],
				None,
			),
			sent(
				dev::charlie(),
				"Balances",
				"transfer_keep_alive",
				vec![address(&dev::dave()), Value::u128(TAO)],
				None,
			),
			sent(
				dev::eve(),
				"Subnets",
				"add_stake",
				vec![id(&hot3), netuid(), Value::u128(TAO)],
				None,
			),
		],
	];
	let expected_duplicate_dests = 3;
	let mut replayed_signed = 0;
	let mut last_block = h;
	for (r, round) in rounds.into_iter().enumerate() {
		let calls = round
			.iter()
			.map(|s| chain.signed(&s.signer, s.pallet, s.call, s.args.clone()));
		// The sudo call of the round goes beside the signed ones (Alice signs nothing else).
		let sudo = async {
			if r == 1 {
				Some(
					chain
						.sudo(
							"Subnets",
							"sudo_set_tempo",
							vec![Value::u128(2), Value::u128(10)],
						)
						.await,
				)
			} else {
				None
			}
		};
		let (outcomes, sudo) = tokio::join!(subxt::ext::futures::future::join_all(calls), sudo);
		if let Some(result) = sudo {
			let block =
				result.unwrap_or_else(|e| panic!("round {r}: sudo(Subnets::sudo_set_tempo): {e}"));
			last_block = last_block.max(block.number);
			replayed_signed += 1;
		}
		for (s, outcome) in round.iter().zip(outcomes) {
			let outcome =
				outcome.unwrap_or_else(|e| panic!("round {r}: {}::{}: {e}", s.pallet, s.call));
			match (s.expect, &outcome.error) {
				(None, None) => {}
				(Some(want), Some(got)) if got.contains(want) => {}
				(want, got) => panic!(
					"round {r}: {}::{} by {}: expected {want:?}, got {got:?}",
					s.pallet,
					s.call,
					subxt::utils::AccountId32::from(s.signer.public_key().0)
				),
			}
			assert!(
				outcome.block.number > h,
				"traffic landed in the snapshot's block"
			);
			last_block = last_block.max(outcome.block.number);
			replayed_signed += 1;
		}
	}
	source
		.wait_for_block(last_block + 1, Duration::from_secs(60))
		.await;
	let capture = dir.join("traffic.capture.db");
	let summary = stagenet_capture::capture(
		&stagenet_capture::CaptureOptions {
			force: true,
			..stagenet_capture::CaptureOptions::new(
				source.url(),
				h + 1,
				last_block,
				&capture,
			)
		},
		&|_| {},
	)
	.await
	.unwrap_or_else(|e| {
		panic!(
			"capture #{}..=#{last_block} of the replay source: {e}",
			h + 1
		)
	});
	drop(source);
	let captured = stagenet_capture::read_capture(&capture)
		.await
		.unwrap_or_else(|e| panic!("read back `{}`: {e}", capture.display()));
	let signed = captured
		.blocks
		.iter()
		.flat_map(|b| &b.extrinsics)
		.filter(|x| x.kind.as_deref() == Some("signed"))
		.count();
	assert_eq!(
		signed,
		replayed_signed,
		"signed extrinsics captured in #{}..=#{last_block} ({summary:?})",
		h + 1
	);
	ReplaySource {
		snapshot,
		capture,
		from: h + 1,
		to: last_block,
		expected_duplicate_dests,
		replayed_signed,
	}
}

/// Waits until block `after` is finalized on the node `chain` talks to, then snapshots the
/// finalized head into `out` (verified); returns its number. `what` names the chain in errors.
pub async fn finalized_snapshot(
	chain: &stagenet_chain::client::Chain,
	after: u64,
	out: &std::path::Path,
	what: &str,
) -> u64 {
	let h = crate::harness::wait_for(
		&format!("block #{after} finalized on {what}"),
		Duration::from_secs(120),
		Duration::from_millis(300),
		|| {
			let chain = chain.clone();
			async move {
				let finalized = chain.finalized_number().await.map_err(|e| e.to_string())?;
				if finalized >= after {
					Ok(finalized)
				} else {
					Err(format!("finalized #{finalized}"))
				}
			}
		},
	)
	.await;
	let quiet: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(|_: &Progress| {});
	download(
		&DownloadOptions {
			at: Some(stagenet_snapshot::BlockRef::Number(h)),
			force: true,
			retry_for: Duration::from_secs(5),
			..DownloadOptions::new(chain.url(), out)
		},
		quiet,
	)
	.await
	.unwrap_or_else(|e| panic!("snapshot of {what} at #{h}: {e}"));
	h
}

/// [`replay_source`] into `target/scenarios/replay/`, made once per test process.
pub async fn shared_replay_source() -> ReplaySource {
	static MADE: tokio::sync::OnceCell<ReplaySource> = tokio::sync::OnceCell::const_new();
	MADE.get_or_init(|| async { replay_source(&repo_root().join("target/scenarios/replay")).await })
		.await
		.clone()
}
