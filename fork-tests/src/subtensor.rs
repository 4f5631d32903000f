//! Real Subtensor artefacts for the tests: the raw genesis of a Subtensor devnet (runtime
//! `node-subtensor` spec 204) and two later real runtimes (205, 218), kept outside the
//! repository in `../shared/subtensor/` (`STAGENET_SUBTENSOR_DIR` names another folder). They
//! run on the bundled test node, which carries node-subtensor's host functions.

use crate::{harness::repo_root, solo::SoloNode};
use stagenet_chain::hash::{storage_prefix, twox128};
use stagenet_snapshot::{trie::StateVersion, writer::Writer, Reader};
use std::path::{Path, PathBuf};
use subxt::ext::{
	codec::{Decode, Encode},
	frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed},
};

fn artefact(name: &str) -> PathBuf {
	let path = stagenet_test_support::subtensor_dir().join(name);
	assert!(
		path.exists(),
		"real Subtensor artefact `{}` is missing (hint: the tests read `../shared/subtensor/` \
		 beside the repository, or the folder `STAGENET_SUBTENSOR_DIR` names)",
		path.display()
	);
	path
}

/// The raw chain spec of the raonet devnet: genesis state with `node-subtensor` spec 204.
pub fn raonet_genesis() -> PathBuf {
	artefact("raonet-genesis-spec204.json")
}

/// A real `node-subtensor` runtime (`205` or `218`).
pub fn runtime(spec_version: u32) -> PathBuf {
	artefact(&format!(
		"node-subtensor-spec{spec_version}.compact.compressed.wasm"
	))
}

/// `twox128(pallet) ++ twox128(item)`.
pub fn item_prefix(pallet: &str, item: &str) -> Vec<u8> {
	storage_prefix(pallet, item).to_vec()
}

/// A verified snapshot of the genesis (block 0) of the raw spec `spec` in `out`, downloaded
/// from a test node that serves the spec; returns the runtime metadata it holds.
pub async fn genesis_snapshot(name: &str, spec: &Path, out: &Path) -> Vec<u8> {
	use stagenet_snapshot::{download, BlockRef, DownloadOptions, Progress};
	let node = SoloNode::serve_spec(name, spec).await;
	let quiet: std::sync::Arc<dyn Fn(&Progress) + Send + Sync> =
		std::sync::Arc::new(|_: &Progress| {});
	download(
		&DownloadOptions {
			at: Some(BlockRef::Number(0)),
			force: true,
			retry_for: std::time::Duration::from_secs(5),
			..DownloadOptions::new(node.url(), out)
		},
		quiet,
	)
	.await
	.unwrap_or_else(|e| panic!("snapshot of the genesis of `{}`: {e}", spec.display()));
	drop(node);
	Reader::open(out)
		.and_then(|mut r| r.metadata())
		.unwrap_or_else(|e| panic!("metadata of `{}`: {e}", out.display()))
		.unwrap_or_else(|| panic!("`{}` holds no metadata", out.display()))
}

/// The state of `src` (a verified snapshot of one trie) as an earlier runtime of `era` would
/// have it, written to `out`: the pairs of `era`'s items and pallets left out, and `metadata`
/// (see [`metadata_without`]) in place of the snapshot's. The state root in the header is the
/// root of the pairs written; a test fixture of a state no real early runtime is at hand for.
pub fn early_state(src: &Path, era: &Era, metadata: &[u8], out: &Path) {
	let mut reader = Reader::open(src).unwrap_or_else(|e| panic!("open `{}`: {e}", src.display()));
	let mut header = reader.header().clone();
	assert!(
		header.verified && header.tries.len() == 1,
		"`{}` must be a verified snapshot of one trie",
		src.display()
	);
	let prefixes = era.prefixes();
	let version = StateVersion::from_u8(header.state_version).unwrap_or(StateVersion::V1);
	let mut writer = Writer::create(out, version, out.display().to_string())
		.unwrap_or_else(|e| panic!("create `{}`: {e}", out.display()));
	writer
		.begin_trie(None)
		.unwrap_or_else(|e| panic!("write `{}`: {e}", out.display()));
	reader
		.for_each_pair(|_, k, v| {
			if prefixes.iter().any(|p| k.starts_with(p)) {
				Ok(())
			} else {
				writer.push(k, v)
			}
		})
		.unwrap_or_else(|e| panic!("copy `{}`: {e}", src.display()));
	let tries = writer
		.close_tries()
		.unwrap_or_else(|e| panic!("write `{}`: {e}", out.display()));
	header.state_root = tries
		.first()
		.map(|t| t.root.clone())
		.unwrap_or_else(|| panic!("no trie written to `{}`", out.display()));
	writer
		.finish(header, Some(metadata))
		.unwrap_or_else(|e| panic!("finish `{}`: {e}", out.display()));
}

/// What an early runtime lacks, for the tests of forks of every Subtensor era: storage items
/// (`Pallet.Item`) and whole pallets.
#[derive(Debug, Clone, Default)]
pub struct Era {
	/// Items absent from the metadata and from the state.
	pub items: Vec<(&'static str, &'static str)>,
	/// Pallets absent from the metadata and from the state.
	pub pallets: Vec<&'static str>,
}

impl Era {
	/// The key prefixes of its items and pallets.
	pub fn prefixes(&self) -> Vec<Vec<u8>> {
		self.items
			.iter()
			.map(|(p, i)| item_prefix(p, i))
			.chain(self.pallets.iter().map(|p| twox128(p.as_bytes()).to_vec()))
			.collect()
	}
}

/// `metadata` (SCALE, `RuntimeMetadataPrefixed`) without the items and pallets of `era`: the
/// shape of a runtime from before they existed.
pub fn metadata_without(metadata: &[u8], era: &Era) -> Vec<u8> {
	let mut md = RuntimeMetadataPrefixed::decode(&mut &metadata[..])
		.unwrap_or_else(|e| panic!("metadata does not decode: {e}"));
	macro_rules! strip {
		($v:expr) => {{
			$v.pallets
				.retain(|p| !era.pallets.contains(&p.name.as_str()));
			for p in &mut $v.pallets {
				if let Some(storage) = &mut p.storage {
					storage.entries.retain(|e| {
						!era.items
							.iter()
							.any(|(pallet, item)| *pallet == p.name && *item == e.name)
					});
				}
			}
		}};
	}
	match &mut md.1 {
		RuntimeMetadata::V14(v) => strip!(v),
		RuntimeMetadata::V15(v) => strip!(v),
		RuntimeMetadata::V16(v) => strip!(v),
		other => panic!("metadata version {} is not handled here", other.version()),
	}
	md.encode()
}

/// One TAO in rao (Subtensor balances are u64 rao, 9 decimals).
pub const TAO: u128 = 1_000_000_000;
/// The subnets the source registers (netuid 1 exists at genesis, owned by nobody).
pub const SOURCE_NETUIDS: [u16; 3] = [2, 3, 4];
/// Hotkeys registered on each subnet by `burned_register`, besides the owner's (uid 0).
pub const SOURCE_NEURONS: usize = 7;
/// The tempo the source gives its subnets: an epoch when `(block + netuid + 1) % 19 == 18`.
/// 19 divides the rebase period 361 of `fork-tests/profiles/subtensor.yaml`, so a fork keeps
/// the source's epoch phase.
pub const SOURCE_TEMPO: u16 = 18;

/// What [`subtensor_source`] made.
#[derive(Debug, Clone)]
pub struct SubtensorSource {
	/// The state at block H (finalized, after the setup), verified against its state root.
	pub snapshot: PathBuf,
	/// Blocks `from..=to` (H+1 onwards) captured by `stagenet_snapshot::capture`.
	pub capture: PathBuf,
	/// First captured block (H+1).
	pub from: u64,
	/// Last captured block.
	pub to: u64,
	/// Signed extrinsics in the capture.
	pub signed: usize,
	/// Of those, the ones that failed on the source (on purpose).
	pub failed: usize,
	/// Blocks at which each subnet's epoch ran on the source (`LastMechansimStepBlock`
	/// changes seen while the source ran), by netuid.
	pub epochs: Vec<(u16, Vec<u64>)>,
}

/// A sr25519 key from a secret URI.
pub fn key(uri: &str) -> subxt_signer::sr25519::Keypair {
	let uri: subxt_signer::SecretUri = uri
		.parse()
		.unwrap_or_else(|e| panic!("secret URI `{uri}`: {e:?}"));
	subxt_signer::sr25519::Keypair::from_uri(&uri).unwrap_or_else(|e| panic!("key: {e}"))
}

/// The hotkey of neuron `i` of subnet `netuid` on the source (`i` 0 is the owner's).
pub fn hotkey(netuid: u16, i: usize) -> subxt_signer::sr25519::Keypair {
	key(&format!("//Subtensor//sn{netuid}//hot{i}"))
}

/// A hotkey that no coldkey registered on the source: the captured window stakes to it.
pub fn fresh_hotkey() -> subxt_signer::sr25519::Keypair {
	key("//Subtensor//fresh-hotkey")
}

/// The coldkey that owns subnet `netuid` on the source.
pub fn owner(netuid: u16) -> subxt_signer::sr25519::Keypair {
	use subxt_signer::sr25519::dev;
	match netuid {
		2 => dev::alice(),
		3 => dev::bob(),
		_ => dev::charlie(),
	}
}

/// A call of the source's traffic: signer, `Pallet`, `call`, arguments, and the error it
/// must end with (`None`: success).
pub struct Tx {
	/// Who signs.
	pub signer: subxt_signer::sr25519::Keypair,
	/// Pallet.
	pub pallet: &'static str,
	/// Call.
	pub call: &'static str,
	/// Arguments in order.
	pub args: Vec<subxt::dynamic::Value>,
	/// `None`: must succeed; `Some(e)`: its dispatch error must contain `e`.
	pub expect: Option<&'static str>,
}

/// A call by `signer` that must succeed.
pub fn tx(
	signer: &subxt_signer::sr25519::Keypair,
	pallet: &'static str,
	call: &'static str,
	args: Vec<subxt::dynamic::Value>,
) -> Tx {
	Tx {
		signer: signer.clone(),
		pallet,
		call,
		args,
		expect: None,
	}
}

fn account_id(k: &subxt_signer::sr25519::Keypair) -> subxt::dynamic::Value {
	subxt::dynamic::Value::from_bytes(k.public_key().0)
}

fn ss58(k: &subxt_signer::sr25519::Keypair) -> String {
	subxt::utils::AccountId32::from(k.public_key().0).to_string()
}

/// Sends `txs` together: each signer's calls get consecutive nonces (from the node's pool
/// view), all are submitted at once, and every one is followed to a best block; returns the
/// highest block that included one. Each outcome is checked against its `expect`.
pub async fn send_all(chain: &stagenet_chain::client::Chain, what: &str, txs: Vec<Tx>) -> u64 {
	use std::collections::BTreeMap;
	let best = chain
		.best_hash()
		.await
		.unwrap_or_else(|e| panic!("{what}: best block: {e}"));
	let mut nonces: BTreeMap<[u8; 32], u64> = BTreeMap::new();
	let mut sent = Vec::new();
	for t in &txs {
		let who = t.signer.public_key().0;
		let nonce = match nonces.get(&who) {
			Some(n) => *n,
			None => chain
				.account_next_index(&ss58(&t.signer))
				.await
				.unwrap_or_else(|e| panic!("{what}: nonce: {e}")),
		};
		nonces.insert(who, nonce + 1);
		let xt = chain
			.sign_with_nonce(best, &t.signer, t.pallet, t.call, t.args.clone(), nonce)
			.await
			.unwrap_or_else(|e| panic!("{what}: sign {}::{}: {e}", t.pallet, t.call));
		let hash = chain
			.submit_extrinsic(&xt)
			.await
			.unwrap_or_else(|e| panic!("{what}: submit {}::{}: {e}", t.pallet, t.call))
			.unwrap_or_else(|e| panic!("{what}: the pool refused {}::{}: {e}", t.pallet, t.call));
		sent.push((hash, xt));
	}
	// Follow the best chain until every extrinsic is found, with its outcome.
	let start = chain
		.best_number()
		.await
		.unwrap_or_else(|e| panic!("{what}: best block: {e}"));
	let mut found: Vec<Option<(u64, Option<String>)>> = vec![None; sent.len()];
	let mut next = start;
	let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
	while found.iter().any(Option::is_none) {
		assert!(
			std::time::Instant::now() < deadline,
			"{what}: {} of {} extrinsics not in a best block after 120 s (blocks #{start}..#{next})",
			found.iter().filter(|f| f.is_none()).count(),
			sent.len()
		);
		let best = chain
			.best_number()
			.await
			.unwrap_or_else(|e| panic!("{what}: best block: {e}"));
		if next > best {
			tokio::time::sleep(std::time::Duration::from_millis(300)).await;
			continue;
		}
		let hash = chain
			.wait_block_hash(next, std::time::Duration::from_secs(30))
			.await
			.unwrap_or_else(|e| panic!("{what}: block #{next}: {e}"));
		let contents = chain
			.block_contents(hash)
			.await
			.unwrap_or_else(|e| panic!("{what}: block #{next}: {e}"))
			.unwrap_or_else(|| panic!("{what}: block #{next} is gone"));
		for (i, x) in contents.extrinsics.iter().enumerate() {
			if let Some(j) = sent.iter().position(|(_, s)| s == x) {
				found[j] = Some((next, contents.failure_of(i as u32)));
			}
		}
		next += 1;
	}
	let mut last = 0;
	for (t, f) in txs.iter().zip(found) {
		let (block, error) = f.unwrap_or_default();
		last = last.max(block);
		match (t.expect, &error) {
			(None, None) => {}
			(Some(want), Some(got)) if got.contains(want) => {}
			(want, got) => panic!(
				"{what}: {}::{} by {} in block #{block}: expected {}, got {}",
				t.pallet,
				t.call,
				ss58(&t.signer),
				want.map(|w| format!("error `{w}`"))
					.unwrap_or("success".into()),
				got.as_deref()
					.map(|g| format!("error `{g}`"))
					.unwrap_or("success".into())
			),
		}
	}
	last
}

/// `Pallet::call { fields }` as a `RuntimeCall` value, for `Utility.batch_all` under sudo.
pub fn runtime_call(
	pallet: &str,
	call: &str,
	fields: Vec<(&str, subxt::dynamic::Value)>,
) -> subxt::dynamic::Value {
	use subxt::dynamic::Value;
	Value::unnamed_variant(pallet, [Value::named_variant(call, fields)])
}

/// Dispatches `calls` as root in one block: `Sudo.sudo(Utility.batch_all(calls))`.
pub async fn sudo_batch(
	chain: &stagenet_chain::client::Chain,
	what: &str,
	calls: Vec<subxt::dynamic::Value>,
) -> u64 {
	chain
		.sudo(
			"Utility",
			"batch_all",
			vec![subxt::dynamic::Value::unnamed_composite(calls)],
		)
		.await
		.unwrap_or_else(|e| panic!("{what}: sudo(Utility.batch_all): {e}"))
		.number
}

/// `SubtensorModule.LastMechansimStepBlock[netuid]` (sic, the runtime's name) at `hash`.
pub async fn last_epoch_block(
	chain: &stagenet_chain::client::Chain,
	hash: subxt::utils::H256,
	netuid: u16,
) -> u64 {
	chain
		.storage_value_at::<u64>(
			hash,
			"SubtensorModule",
			"LastMechansimStepBlock",
			vec![subxt::dynamic::Value::u128(u128::from(netuid))],
		)
		.await
		.unwrap_or_else(|e| panic!("LastMechansimStepBlock[{netuid}]: {e}"))
		.unwrap_or_default()
}

/// The source of the Subtensor tests, made in `dir`: the real raonet genesis (spec 204) is
/// forked for one dev validator (`//Alice`, also sudo; Alice, Bob and Charlie funded by
/// `subtensor.yaml`) and run, then brought to a realistic shape with real Subtensor
/// extrinsics built from its metadata: rate limits that block quick tests lowered as root,
/// three subnets registered by three coldkeys (`register_network`), their tempo lowered to
/// [`SOURCE_TEMPO`], 7 neurons each registered by `burned_register` from three coldkeys,
/// stake from several coldkeys, axons and Prometheus endpoints served, child keys with a
/// childkey take, delegates with a lowered take, weights set by three validators per subnet
/// after an epoch granted their permits, transfers. Epochs run. The finalized state at H is
/// snapshotted; more traffic follows (weights, stake added and removed, a stake to a hotkey
/// nobody registered, axons, transfers and two calls that fail on purpose) and blocks H+1..
/// are captured. The network is stopped.
pub async fn subtensor_source(dir: &Path) -> SubtensorSource {
	use crate::harness::start_network_from_spec;
	use stagenet_chain::client::Chain;
	use stagenet_fork::{fork, ForkOptions};
	use std::time::Duration;
	use subxt::dynamic::Value;
	use subxt_signer::sr25519::dev;

	let _ = std::fs::remove_dir_all(dir);
	std::fs::create_dir_all(dir)
		.unwrap_or_else(|e| panic!("cannot create `{}`: {e}", dir.display()));
	let genesis_snap = dir.join("genesis.snap");
	genesis_snapshot("subtensor-genesis", &raonet_genesis(), &genesis_snap).await;
	let spec = dir.join("source.spec.json");
	fork(
		&ForkOptions {
			snapshot: genesis_snap,
			profile: repo_root().join("fork-tests/profiles/subtensor.yaml"),
			out: spec.clone(),
			validators: Some(1),
			// A genesis holds no block numbers to rebase.
			no_rebase: true,
			force: true,
			..Default::default()
		},
		|_| {},
	)
	.unwrap_or_else(|e| panic!("fork of the raonet genesis: {e}"));
	let mut network = start_network_from_spec("subtensor-source", &spec, 1, 0).await;
	let url = network.nodes()[0].rpc_url.clone();
	let chain = Chain::connect(&url)
		.await
		.unwrap_or_else(|e| panic!("connect to the Subtensor source: {e}"));
	let u = |n: u128| Value::u128(n);
	let netuid = |n: u16| Value::u128(u128::from(n));
	let address = |k: &subxt_signer::sr25519::Keypair| {
		Value::unnamed_variant("Id", [Value::from_bytes(k.public_key().0)])
	};
	let (dave, eve, ferdie) = (dev::dave(), dev::eve(), dev::ferdie());

	// Root settings that would keep a devnet from registering subnets, staking or changing
	// takes within a test.
	sudo_batch(
		&chain,
		"global settings",
		vec![
			runtime_call(
				"AdminUtils",
				"sudo_set_network_rate_limit",
				vec![("rate_limit", u(0))],
			),
			runtime_call(
				"AdminUtils",
				"sudo_set_tx_rate_limit",
				vec![("tx_rate_limit", u(0))],
			),
			runtime_call(
				"AdminUtils",
				"sudo_set_tx_delegate_take_rate_limit",
				vec![("tx_rate_limit", u(0))],
			),
			runtime_call(
				"SubtensorModule",
				"sudo_set_tx_childkey_take_rate_limit",
				vec![("tx_rate_limit", u(0))],
			),
		],
	)
	.await;
	send_all(
		&chain,
		"fund coldkeys",
		vec![
			tx(
				&dev::bob(),
				"Balances",
				"transfer_keep_alive",
				vec![address(&dave), u(10_000 * TAO)],
			),
			tx(
				&dev::charlie(),
				"Balances",
				"transfer_keep_alive",
				vec![address(&eve), u(10_000 * TAO)],
			),
		],
	)
	.await;

	// Subnets, one owner at a time (a netuid is the lowest free one when the call runs).
	for n in SOURCE_NETUIDS {
		send_all(
			&chain,
			&format!("register subnet {n}"),
			vec![tx(
				&owner(n),
				"SubtensorModule",
				"register_network",
				vec![account_id(&hotkey(n, 0)), u(1)],
			)],
		)
		.await;
		let best = chain
			.best_hash()
			.await
			.unwrap_or_else(|e| panic!("best: {e}"));
		let who: Option<subxt::utils::AccountId32> = chain
			.storage_value_at(best, "SubtensorModule", "SubnetOwner", vec![netuid(n)])
			.await
			.unwrap_or_else(|e| panic!("SubnetOwner[{n}]: {e}"));
		assert_eq!(
			who,
			Some(subxt::utils::AccountId32::from(owner(n).public_key().0)),
			"subnet {n} is owned by its registrant"
		);
	}
	let mut settings = Vec::new();
	for n in SOURCE_NETUIDS {
		for (call, field, value) in [
			("sudo_set_tempo", "tempo", u128::from(SOURCE_TEMPO)),
			(
				"sudo_set_target_registrations_per_interval",
				"target_registrations_per_interval",
				16,
			),
			(
				"sudo_set_max_registrations_per_block",
				"max_registrations_per_block",
				16,
			),
			(
				"sudo_set_weights_set_rate_limit",
				"weights_set_rate_limit",
				0,
			),
			("sudo_set_serving_rate_limit", "serving_rate_limit", 0),
		] {
			settings.push(runtime_call(
				"AdminUtils",
				call,
				vec![("netuid", netuid(n)), (field, u(value))],
			));
		}
	}
	sudo_batch(&chain, "subnet settings", settings).await;

	// Neurons: registered by three coldkeys; every hotkey funded for its own calls.
	let registrar = |n: u16, i: usize| [owner(n), dave.clone(), eve.clone()][i % 3].clone();
	let mut txs = Vec::new();
	for n in SOURCE_NETUIDS {
		for i in 1..=SOURCE_NEURONS {
			txs.push(tx(
				&registrar(n, i),
				"SubtensorModule",
				"burned_register",
				vec![netuid(n), account_id(&hotkey(n, i))],
			));
		}
		for i in 0..=SOURCE_NEURONS {
			txs.push(tx(
				&ferdie,
				"Balances",
				"transfer_keep_alive",
				vec![address(&hotkey(n, i)), u(TAO)],
			));
		}
	}
	// Ferdie pays the hotkeys: fund him first.
	send_all(
		&chain,
		"fund Ferdie",
		vec![tx(
			&dev::bob(),
			"Balances",
			"transfer_keep_alive",
			vec![address(&ferdie), u(1_000 * TAO)],
		)],
	)
	.await;
	send_all(&chain, "register neurons", txs).await;
	let best = chain
		.best_hash()
		.await
		.unwrap_or_else(|e| panic!("best: {e}"));
	for n in SOURCE_NETUIDS {
		let count: Option<u16> = chain
			.storage_value_at(best, "SubtensorModule", "SubnetworkN", vec![netuid(n)])
			.await
			.unwrap_or_else(|e| panic!("SubnetworkN[{n}]: {e}"));
		assert_eq!(
			count,
			Some(SOURCE_NEURONS as u16 + 1),
			"neurons on subnet {n}"
		);
	}

	// Stake from several coldkeys, axons, child keys and takes.
	let mut txs = Vec::new();
	for n in SOURCE_NETUIDS {
		let ip = |i: usize| (10u128 << 24) | (u128::from(n) << 8) | (i as u128 + 1);
		for (coldkey, i, amount) in [
			(&dave, 0, 100 * TAO),
			(&eve, 1, 50 * TAO),
			(&owner(n), 2, 20 * TAO),
			(&dave, 3, 5 * TAO),
		] {
			txs.push(tx(
				coldkey,
				"SubtensorModule",
				"add_stake",
				vec![account_id(&hotkey(n, i)), netuid(n), u(amount)],
			));
		}
		for i in 0..=SOURCE_NEURONS {
			txs.push(tx(
				&hotkey(n, i),
				"SubtensorModule",
				"serve_axon",
				vec![netuid(n), u(1), u(ip(i)), u(8091), u(4), u(0), u(0), u(0)],
			));
		}
		txs.push(tx(
			&hotkey(n, 1),
			"SubtensorModule",
			"serve_prometheus",
			vec![netuid(n), u(1), u(ip(1)), u(9091), u(4)],
		));
		// The owner's hotkey delegates half its stake weight to neuron 4 (registered by Dave,
		// who sets its childkey take), and becomes a delegate.
		txs.push(tx(
			&owner(n),
			"SubtensorModule",
			"set_children",
			vec![
				account_id(&hotkey(n, 0)),
				netuid(n),
				Value::unnamed_composite([Value::unnamed_composite([
					u(u128::from(u64::MAX / 2)),
					account_id(&hotkey(n, 4)),
				])]),
			],
		));
		txs.push(tx(
			&dave,
			"SubtensorModule",
			"set_childkey_take",
			vec![account_id(&hotkey(n, 4)), netuid(n), u(1000)],
		));
	}
	for n in SOURCE_NETUIDS {
		txs.push(tx(
			&owner(n),
			"SubtensorModule",
			"become_delegate",
			vec![account_id(&hotkey(n, 0))],
		));
	}
	send_all(&chain, "stake, axons, children", txs).await;
	let mut txs = Vec::new();
	for n in SOURCE_NETUIDS {
		txs.push(tx(
			&owner(n),
			"SubtensorModule",
			"decrease_take",
			vec![account_id(&hotkey(n, 0)), u(5000)],
		));
	}
	send_all(&chain, "delegate takes", txs).await;

	// An epoch of every subnet grants the validator permits of the new neurons.
	let registered = chain
		.best_number()
		.await
		.unwrap_or_else(|e| panic!("best: {e}"));
	let mut epochs: Vec<(u16, Vec<u64>)> =
		SOURCE_NETUIDS.iter().map(|n| (*n, Vec::new())).collect();
	let record_epochs = |chain: Chain, epochs: &mut Vec<(u16, Vec<u64>)>, hash| {
		let chain = chain.clone();
		let mut epochs = std::mem::take(epochs);
		async move {
			for (n, seen) in epochs.iter_mut() {
				let b = last_epoch_block(&chain, hash, *n).await;
				if b > 0 && !seen.contains(&b) {
					seen.push(b);
				}
			}
			epochs
		}
	};
	let deadline = std::time::Instant::now() + Duration::from_secs(180);
	loop {
		let best = chain
			.best_hash()
			.await
			.unwrap_or_else(|e| panic!("best: {e}"));
		epochs = record_epochs(chain.clone(), &mut epochs, best).await;
		if epochs
			.iter()
			.all(|(_, seen)| seen.iter().any(|b| *b > registered))
		{
			break;
		}
		assert!(
			std::time::Instant::now() < deadline,
			"no epoch on every subnet within 180 s after block #{registered}: {epochs:?}"
		);
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	let weights = |n: u16, from: usize| {
		let dests: Vec<Value> = (0..=SOURCE_NEURONS as u128).map(Value::u128).collect();
		let values: Vec<Value> = (0..=SOURCE_NEURONS)
			.map(|i| Value::u128(((i + from) % 5 + 1) as u128 * 1000))
			.collect();
		vec![
			netuid(n),
			Value::unnamed_composite(dests),
			Value::unnamed_composite(values),
			u(0),
		]
	};
	let mut txs = Vec::new();
	for n in SOURCE_NETUIDS {
		for v in 0..3 {
			txs.push(tx(
				&hotkey(n, v),
				"SubtensorModule",
				"set_weights",
				weights(n, v),
			));
		}
	}
	txs.push(tx(
		&dave,
		"Balances",
		"transfer_keep_alive",
		vec![address(&eve), u(7 * TAO)],
	));
	let setup_end = send_all(&chain, "weights", txs).await;

	// The snapshot: the finalized head once the setup is final.
	let snapshot = dir.join("source.snap");
	let h =
		crate::fixtures::finalized_snapshot(&chain, setup_end, &snapshot, "the Subtensor source")
			.await;

	// The captured window: traffic after H, in rounds. The staker that holds the most alpha on
	// subnet 3 takes a tenth of it back (the first stake into a young subnet's pool buys nearly
	// all of its alpha: the others hold little).
	let hash = chain
		.best_hash()
		.await
		.unwrap_or_else(|e| panic!("best: {e}"));
	let mut positions = Vec::new();
	for (coldkey, i) in [(&dave, 0), (&eve, 1), (&owner(3), 2), (&dave, 3)] {
		let alpha: u64 = chain
			.storage_value_at::<u64>(
				hash,
				"SubtensorModule",
				"Alpha",
				vec![account_id(&hotkey(3, i)), account_id(coldkey), netuid(3)],
			)
			.await
			.unwrap_or_else(|e| panic!("Alpha on subnet 3: {e}"))
			.unwrap_or_default();
		positions.push((alpha, coldkey.clone(), i));
	}
	positions.sort_by_key(|p| std::cmp::Reverse(p.0));
	let (alpha, unstaker, unstake_from) = positions.swap_remove(0);
	assert!(alpha >= 10, "no alpha staked on subnet 3");
	let rounds: Vec<Vec<Tx>> = vec![
		SOURCE_NETUIDS
			.iter()
			.map(|n| {
				tx(
					&hotkey(*n, 0),
					"SubtensorModule",
					"set_weights",
					weights(*n, 3),
				)
			})
			.chain([
				tx(
					&dave,
					"SubtensorModule",
					"add_stake",
					vec![account_id(&hotkey(2, 1)), netuid(2), u(3 * TAO)],
				),
				tx(
					&dev::bob(),
					"Balances",
					"transfer_keep_alive",
					vec![address(&ferdie), u(2 * TAO)],
				),
				Tx {
					expect: Some("HotKeyAlreadyRegisteredInSubNet"),
					..tx(
						&eve,
						"SubtensorModule",
						"burned_register",
						vec![netuid(3), account_id(&hotkey(3, 1))],
					)
				},
			])
			.collect(),
		SOURCE_NETUIDS
			.iter()
			.map(|n| {
				tx(
					&hotkey(*n, 1),
					"SubtensorModule",
					"set_weights",
					weights(*n, 4),
				)
			})
			.chain([
				// A stake to a hotkey nobody registered: spec 204 creates the hotkey (owned
				// by the staker); 218 refuses it (`HotKeyAccountNotExists`).
				tx(
					&dave,
					"SubtensorModule",
					"add_stake",
					vec![account_id(&fresh_hotkey()), netuid(2), u(TAO)],
				),
				tx(
					&hotkey(4, 5),
					"SubtensorModule",
					"serve_axon",
					vec![
						netuid(4),
						u(2),
						u((10 << 24) | 99),
						u(8092),
						u(4),
						u(0),
						u(0),
						u(0),
					],
				),
				tx(
					&unstaker,
					"SubtensorModule",
					"remove_stake",
					vec![
						account_id(&hotkey(3, unstake_from)),
						netuid(3),
						u(u128::from(alpha / 10)),
					],
				),
				Tx {
					expect: Some(""),
					..tx(
						&ferdie,
						"Balances",
						"transfer_keep_alive",
						vec![address(&dave), u(1_000_000 * TAO)],
					)
				},
			])
			.collect(),
	];
	let mut signed = 0;
	let mut failed = 0;
	let mut last = h;
	for (r, round) in rounds.into_iter().enumerate() {
		signed += round.len();
		failed += round.iter().filter(|t| t.expect.is_some()).count();
		last = last.max(send_all(&chain, &format!("captured round {r}"), round).await);
	}
	// Epochs keep running: follow them until every subnet has run at least two (the tests
	// compare their phase with the fork's).
	let deadline = std::time::Instant::now() + Duration::from_secs(180);
	loop {
		let hash = chain
			.best_hash()
			.await
			.unwrap_or_else(|e| panic!("best: {e}"));
		epochs = record_epochs(chain.clone(), &mut epochs, hash).await;
		if epochs.iter().all(|(_, seen)| seen.len() >= 2) {
			break;
		}
		assert!(
			std::time::Instant::now() < deadline,
			"fewer than two epochs per subnet on the source in 180 s: {epochs:?}"
		);
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	let capture = dir.join("window.capture.db");
	stagenet_capture::capture(
		&stagenet_capture::CaptureOptions {
			force: true,
			..stagenet_capture::CaptureOptions::new(url.clone(), h + 1, last, &capture)
		},
		&|_| {},
	)
	.await
	.unwrap_or_else(|e| panic!("capture #{}..=#{last} of the Subtensor source: {e}", h + 1));
	network
		.shutdown()
		.await
		.unwrap_or_else(|e| panic!("stop the Subtensor source: {e}"));
	SubtensorSource {
		snapshot,
		capture,
		from: h + 1,
		to: last,
		signed,
		failed,
		epochs,
	}
}

/// [`subtensor_source`] into `target/scenarios/subtensor/`, made once per test process.
pub async fn shared_subtensor_source() -> SubtensorSource {
	static MADE: tokio::sync::OnceCell<SubtensorSource> = tokio::sync::OnceCell::const_new();
	MADE.get_or_init(|| async {
		subtensor_source(&repo_root().join("target/scenarios/subtensor")).await
	})
	.await
	.clone()
}

/// `SubtensorModule.Weights[netuid][uid]` at `hash`: (target uid, weight) pairs.
pub async fn weights_row(
	chain: &stagenet_chain::client::Chain,
	hash: subxt::utils::H256,
	netuid: u16,
	uid: u16,
) -> Vec<(u16, u16)> {
	chain
		.storage_value_at::<Vec<(u16, u16)>>(
			hash,
			"SubtensorModule",
			"Weights",
			vec![
				subxt::dynamic::Value::u128(u128::from(netuid)),
				subxt::dynamic::Value::u128(u128::from(uid)),
			],
		)
		.await
		.unwrap_or_else(|e| panic!("Weights[{netuid}][{uid}]: {e}"))
		.unwrap_or_default()
}
