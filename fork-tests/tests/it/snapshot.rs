//! `stagenet snapshot` against a real test-chain node whose state was grown with `populate`:
//! completeness against a naive download, the state root, child tries, resume after a node
//! crash, damaged files, `from-spec` of the node's own `export-state`, and refused blocks.

use stagenet_chain::client::Chain;
use stagenet_fork_tests::{harness::repo_root, solo::SoloNode};
use stagenet_snapshot::{
	download, format::CHILD_STORAGE_PREFIX, inspect::inspect, reader::Reader, spec, BlockRef,
	DownloadOptions, Phase, Progress, SnapshotError,
};
use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
	sync::Arc,
	time::Duration,
};
use subxt::{
	ext::scale_value::Value,
	rpcs::{client::rpc_params, RpcClient},
};

type Pairs = BTreeMap<Option<Vec<u8>>, BTreeMap<Vec<u8>, Vec<u8>>>;

fn out_dir(name: &str) -> PathBuf {
	let dir = repo_root()
		.join("target/test-runs")
		.join(format!("snap-{name}-{}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create the test's output directory");
	dir
}

/// Grows the state: `subnets` subnets from `first` with 256 neurons each (≈ 10 keys per
/// neuron and one child trie per subnet). Returns the block that holds the call.
async fn populate(chain: &Chain, first: u16, subnets: u16) -> u64 {
	let inb = chain
		.sudo(
			"Subnets",
			"populate",
			vec![
				Value::u128(first as u128),
				Value::u128(subnets as u128),
				Value::u128(256),
				Value::u128(0),
			],
		)
		.await
		.expect("sudo(populate)");
	inb.number
}

/// A progress sink that reports, once, the key count of the first progress report that
/// shows downloaded keys.
fn first_keys_signal() -> (
	Arc<dyn Fn(&Progress) + Send + Sync>,
	tokio::sync::oneshot::Receiver<u64>,
) {
	let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
	let tx = std::sync::Mutex::new(Some(tx));
	let sink: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(move |p: &Progress| {
		if p.phase == Phase::Downloading && p.keys > 0 {
			if let Some(tx) = tx.lock().expect("lock").take() {
				let _ = tx.send(p.keys);
			}
		}
	});
	(sink, rx)
}

fn quiet() -> Arc<dyn Fn(&Progress) + Send + Sync> {
	Arc::new(|_: &Progress| {})
}

fn options(url: &str, out: &Path, at: u64) -> DownloadOptions {
	DownloadOptions {
		at: Some(BlockRef::Number(at)),
		retry_for: Duration::from_secs(2),
		..DownloadOptions::new(url, out)
	}
}

/// Every pair of a snapshot, per trie (`None` = top, else the child storage key).
fn pairs_of(path: &Path) -> Pairs {
	let mut r = Reader::open(path).expect("open snapshot");
	let names: BTreeMap<u32, Option<Vec<u8>>> = r
		.header()
		.tries
		.iter()
		.map(|t| {
			(
				t.id,
				t.child
					.as_deref()
					.map(|c| hex::decode(&c[2..]).expect("hex child key")),
			)
		})
		.collect();
	let mut out = Pairs::new();
	r.for_each_pair(|trie, k, v| {
		out.entry(names[&trie].clone())
			.or_default()
			.insert(k.to_vec(), v.to_vec());
		Ok(())
	})
	.expect("read pairs");
	out
}

fn unhex(s: &str) -> Vec<u8> {
	hex::decode(s.trim_start_matches("0x")).expect("hex from the node")
}

/// The reference: one key at a time, the simplest use of the RPC API, no partitioning.
async fn naive_download(url: &str, at: &str) -> Pairs {
	let rpc = RpcClient::from_insecure_url(url).await.expect("connect");
	let mut out = Pairs::new();
	let mut keys: Vec<String> = Vec::new();
	let mut start: Option<String> = None;
	loop {
		let page: Vec<String> = rpc
			.request(
				"state_getKeysPaged",
				rpc_params!["0x", 1000, start.clone(), at],
			)
			.await
			.expect("state_getKeysPaged");
		let full = page.len() == 1000;
		start = page.last().cloned();
		keys.extend(page);
		if !full {
			break;
		}
	}
	for k in &keys {
		let v: Option<String> = rpc
			.request("state_getStorage", rpc_params![k, at])
			.await
			.expect("state_getStorage");
		let key = unhex(k);
		out.entry(None)
			.or_default()
			.insert(key.clone(), unhex(&v.expect("listed key has a value")));
		if let Some(child) = key.strip_prefix(CHILD_STORAGE_PREFIX) {
			let ck = format!("0x{}", hex::encode(&key));
			let ckeys: Vec<String> = rpc
				.request("childstate_getKeys", rpc_params![ck.clone(), "0x", at])
				.await
				.expect("childstate_getKeys");
			for c in ckeys {
				let v: Option<String> = rpc
					.request(
						"childstate_getStorage",
						rpc_params![ck.clone(), c.clone(), at],
					)
					.await
					.expect("childstate_getStorage");
				out.entry(Some(child.to_vec()))
					.or_default()
					.insert(unhex(&c), unhex(&v.expect("child value")));
			}
		}
	}
	out
}

async fn block_header(url: &str, n: u64) -> (String, String) {
	let rpc = RpcClient::from_insecure_url(url).await.expect("connect");
	let hash: String = rpc
		.request("chain_getBlockHash", rpc_params![n])
		.await
		.expect("hash");
	let header: serde_json::Value = rpc
		.request("chain_getHeader", rpc_params![hash.clone()])
		.await
		.expect("header");
	(
		hash,
		header["stateRoot"].as_str().expect("stateRoot").to_string(),
	)
}

fn total(p: &Pairs) -> usize {
	p.values().map(|m| m.len()).sum()
}

#[tokio::test]
async fn snapshot_equals_a_naive_download_verifies_and_matches_export_state() {
	stagenet_test_support::require!(TestChain);
	let mut node = SoloNode::start("snap-naive", &[]).await;
	let chain = Chain::connect(&node.url()).await.expect("connect");
	let at = populate(&chain, 1, 8).await;
	node.wait_for_block(at + 1, Duration::from_secs(60)).await;
	let (hash, root) = block_header(&node.url(), at).await;
	let dir = out_dir("naive");
	let out = dir.join("state.snap");

	let summary = download(&options(&node.url(), &out, at), quiet())
		.await
		.expect("snapshot");
	let h = &summary.header;
	assert!(h.verified);
	assert_eq!(
		h.block.as_ref().map(|b| (b.number, b.hash.clone())),
		Some((at, hash.clone()))
	);
	assert_eq!(h.state_root, root, "the header's root is the block's");
	assert_eq!(h.runtime.as_ref().map(|r| r.spec_version), Some(100));
	assert!(
		!dir.join("state.snap.partial").exists(),
		"the work directory is removed"
	);

	let got = pairs_of(&out);
	let want = naive_download(&node.url(), &hash).await;
	assert!(
		total(&want) > 15_000,
		"populate grew the state ({} pairs)",
		total(&want)
	);
	assert_eq!(
		want.keys().filter(|k| k.is_some()).count(),
		8,
		"one child trie per subnet"
	);
	assert_eq!(got.len(), want.len(), "same tries");
	for (trie, w) in &want {
		let g = &got[trie];
		assert_eq!(g.len(), w.len(), "pairs of trie {trie:?}");
		assert!(
			g == w,
			"every key and value of trie {trie:?} equals the naive download"
		);
	}
	assert_eq!(h.key_count as usize, total(&want));

	let report = Reader::open(&out)
		.expect("open")
		.verify(|_, _| {})
		.expect("verify");
	assert_eq!(report.top_root, root);
	assert_eq!(report.child_tries, 8);

	let i = inspect(&out).expect("inspect");
	assert!(i.has_metadata);
	assert_eq!(
		i.pallets[0].name, "Subnets",
		"the populated pallet is the largest: {:?}",
		i.pallets[0]
	);
	assert!(i.pallets.iter().any(|p| p.name == "System"));
	assert!(i
		.pallets
		.iter()
		.any(|p| p.name == "(well-known keys)" && p.items.iter().any(|it| it.name == ":code")));
	let stake = i.pallets[0]
		.items
		.iter()
		.find(|it| it.name == "Stake")
		.expect("Subnets::Stake listed");
	assert_eq!(stake.keys, 8 * 256);

	// An existing output is refused without --force and replaced with it.
	let again = download(&options(&node.url(), &out, at), quiet()).await;
	assert!(
		matches!(again, Err(SnapshotError::OutputExists { .. })),
		"{again:?}"
	);
	let forced = DownloadOptions {
		force: true,
		..options(&node.url(), &out, at)
	};
	download(&forced, quiet()).await.expect("forced snapshot");

	// The node's own export of the same block, read back from its raw spec, is the same state.
	let spec_json = node.offline(&["export-state", &at.to_string()]).await;
	let spec_path = dir.join("export-state.json");
	std::fs::write(&spec_path, &spec_json).expect("write spec");
	let from = dir.join("from-spec.snap");
	let s = spec::from_spec(&spec::FromSpecOptions {
		spec: spec_path,
		out: from.clone(),
		force: false,
		state_version: None,
		metadata: None,
	})
	.expect("from-spec");
	assert_eq!(
		s.header.state_root, root,
		"the spec's pairs hash to the block's state root"
	);
	assert_eq!(
		s.header.runtime.as_ref().map(|r| r.spec_version),
		Some(100),
		"runtime read from :code"
	);
	assert!(
		pairs_of(&from) == got,
		"from-spec holds exactly the RPC snapshot's pairs"
	);
	Reader::open(&from)
		.expect("open")
		.verify(|_, _| {})
		.expect("verify from-spec");
}

#[tokio::test]
async fn damaged_snapshots_are_named_by_chunk() {
	stagenet_test_support::require!(TestChain);
	let node = SoloNode::start("snap-damage", &[]).await;
	let chain = Chain::connect(&node.url()).await.expect("connect");
	let at = populate(&chain, 1, 4).await;
	node.wait_for_block(at + 1, Duration::from_secs(60)).await;
	let dir = out_dir("damage");
	let good = dir.join("good.snap");
	download(&options(&node.url(), &good, at), quiet())
		.await
		.expect("snapshot");
	let bytes = std::fs::read(&good).expect("read");
	let chunks = Reader::open(&good).expect("open").chunks().to_vec();
	assert!(chunks.len() >= 3, "several chunks ({})", chunks.len());

	// One flipped byte inside a chunk: verify fails and names that chunk.
	let k = chunks.len() / 2;
	let mut bad = bytes.clone();
	let at_byte = chunks[k].offset as usize + 52 + chunks[k].comp_len as usize / 2;
	bad[at_byte] ^= 0x40;
	let corrupt = dir.join("corrupt.snap");
	std::fs::write(&corrupt, &bad).expect("write");
	let err = Reader::open(&corrupt)
		.expect("framing intact")
		.verify(|_, _| {})
		.expect_err("corrupt");
	assert!(
		matches!(err, SnapshotError::Corrupt { chunk: Some(c), .. } if c == k as u64),
		"{err}"
	);
	assert!(
		err.to_string().contains(&format!("chunk {k}")) && err.to_string().contains("hint:"),
		"{err}"
	);
	assert!(err.is_verification_failure());

	// Cut in the middle of a chunk: opening says truncated and which chunk.
	let cut = dir.join("truncated.snap");
	std::fs::write(&cut, &bytes[..at_byte]).expect("write");
	let err = Reader::open(&cut).err().expect("truncated");
	assert!(matches!(err, SnapshotError::Truncated { .. }), "{err}");
	assert!(
		err.to_string().contains(&format!("inside chunk {k}")),
		"{err}"
	);

	// Another format version: refused with what to do.
	let mut other = bytes.clone();
	other[8] = 9;
	let wrong = dir.join("v9.snap");
	std::fs::write(&wrong, &other).expect("write");
	let err = Reader::open(&wrong).err().expect("wrong version");
	assert!(
		matches!(err, SnapshotError::WrongVersion { found: 9, .. }),
		"{err}"
	);

	// A byte in the header: the whole-file checksum catches it.
	let mut hdr = bytes.clone();
	let last = chunks.last().expect("a chunk");
	let header_at = last.offset as usize + 52 + last.comp_len as usize + 10;
	hdr[header_at] = if hdr[header_at] == b' ' { b'\t' } else { b' ' };
	let hpath = dir.join("header.snap");
	std::fs::write(&hpath, &hdr).expect("write");
	let res = Reader::open(&hpath).and_then(|mut r| r.verify(|_, _| {}));
	assert!(
		matches!(res, Err(SnapshotError::Corrupt { .. })),
		"{:?}",
		res.err()
	);
}

#[tokio::test]
async fn a_download_cut_by_a_node_crash_resumes_to_the_same_file() {
	stagenet_test_support::require!(TestChain);
	let mut node = SoloNode::start("snap-resume", &[]).await;
	let chain = Chain::connect(&node.url()).await.expect("connect");
	let mut at = 0;
	for first in [1u16, 17, 33] {
		at = populate(&chain, first, 16).await;
	}
	node.wait_for_block(at + 1, Duration::from_secs(60)).await;
	let dir = out_dir("resume");
	let reference = dir.join("reference.snap");
	let full = download(&options(&node.url(), &reference, at), quiet())
		.await
		.expect("reference snapshot");

	let out = dir.join("resumed.snap");
	let (on_progress, rx) = first_keys_signal();
	let opts = DownloadOptions {
		concurrency: 2,
		connections: 1,
		..options(&node.url(), &out, at)
	};
	let task = tokio::spawn({
		let opts = opts.clone();
		async move { download(&opts, on_progress).await }
	});
	let keys_before_kill = tokio::time::timeout(Duration::from_secs(60), rx)
		.await
		.expect("progress within 60 s")
		.expect("progress reported");
	node.kill().await;
	let err = task
		.await
		.expect("join")
		.expect_err("the node died mid-way");
	assert!(err.is_infrastructure(), "{err}");
	assert!(err.to_string().contains("--resume"), "{err}");
	assert!(!out.exists(), "no file is presented as complete");
	assert!(dir.join("resumed.snap.partial/checkpoint.json").exists());
	assert!(
		keys_before_kill < full.header.key_count,
		"killed mid-way ({keys_before_kill} of {})",
		full.header.key_count
	);

	// Without --resume an interrupted download is not silently overwritten.
	let again = download(&opts, quiet()).await;
	assert!(
		matches!(again, Err(SnapshotError::InterruptedDownloadExists { .. })),
		"{again:?}"
	);

	node.restart().await;
	let resumed = download(
		&DownloadOptions {
			resume: true,
			..opts
		},
		quiet(),
	)
	.await
	.expect("resumed snapshot");
	assert!(resumed.resumed);
	assert!(
		resumed.calls < full.calls,
		"the resumed run continued ({} calls vs {} for a full download)",
		resumed.calls,
		full.calls
	);
	assert_eq!(
		std::fs::read(&out).expect("read resumed"),
		std::fs::read(&reference).expect("read reference"),
		"the resumed download ends with the same file"
	);
	Reader::open(&out)
		.expect("open")
		.verify(|_, _| {})
		.expect("verify resumed");

	// A node that comes back within `--retry-for`: the same download reconnects by itself.
	let healed = dir.join("healed.snap");
	let (on_progress, rx) = first_keys_signal();
	let patient = DownloadOptions {
		concurrency: 2,
		connections: 1,
		retry_for: Duration::from_secs(90),
		..options(&node.url(), &healed, at)
	};
	let task = tokio::spawn(async move { download(&patient, on_progress).await });
	let keys_before_restart = tokio::time::timeout(Duration::from_secs(60), rx)
		.await
		.expect("progress within 60 s")
		.expect("progress reported");
	node.restart().await;
	assert!(
		keys_before_restart < full.header.key_count,
		"restarted mid-way"
	);
	let s = task
		.await
		.expect("join")
		.expect("the download survives a node restart");
	assert!(!s.resumed);
	assert_eq!(
		std::fs::read(&healed).expect("read healed"),
		std::fs::read(&reference).expect("read reference"),
		"a download that reconnected ends with the same file"
	);
}

#[tokio::test]
async fn pruned_unknown_and_unreachable_are_refused_with_hints() {
	stagenet_test_support::require!(TestChain);
	let node = SoloNode::start(
		"snap-pruned",
		&["--state-pruning", "4", "--blocks-pruning", "archive"],
	)
	.await;
	node.wait_for_block(12, Duration::from_secs(60)).await;
	let dir = out_dir("pruned");
	let out = dir.join("x.snap");
	let err = download(&options(&node.url(), &out, 1), quiet())
		.await
		.expect_err("block 1 is pruned");
	match &err {
		SnapshotError::StatePruned {
			block: 1,
			oldest: Some(o),
			..
		} => assert!(*o > 1, "{err}"),
		other => panic!("expected StatePruned with the oldest block, got {other}"),
	}
	assert!(err.to_string().contains("archive"), "{err}");
	assert!(!out.exists());

	let err = download(&options(&node.url(), &out, 1_000_000), quiet())
		.await
		.expect_err("unknown block");
	assert!(
		matches!(err, SnapshotError::UnknownBlock { best: Some(_), .. }),
		"{err}"
	);

	let port = std::net::TcpListener::bind("127.0.0.1:0")
		.expect("bind")
		.local_addr()
		.expect("addr")
		.port();
	let err = download(
		&options(&format!("ws://127.0.0.1:{port}"), &out, 1),
		quiet(),
	)
	.await
	.expect_err("nothing listens");
	assert!(matches!(err, SnapshotError::Unreachable { .. }), "{err}");
	assert!(err.to_string().contains("hint:"), "{err}");
}

#[tokio::test]
async fn a_node_that_lies_about_one_value_fails_verification_and_writes_nothing() {
	stagenet_test_support::require!(TestChain);
	let node = SoloNode::start("snap-lie", &[]).await;
	let proxy = stagenet_fork_tests::lying_proxy::LyingProxy::start(node.rpc_port).await;
	let dir = out_dir("lie");
	let out = dir.join("lie.snap");
	let url = format!("ws://127.0.0.1:{}", proxy.port);
	let err = download(&options(&url, &out, 1), quiet())
		.await
		.expect_err("a lie must not verify");
	assert!(proxy.lied(), "the proxy altered one value");
	assert!(matches!(err, SnapshotError::RootMismatch { .. }), "{err}");
	assert!(err.is_verification_failure(), "exit 1: {err}");
	assert!(
		err.to_string().contains("expected") && err.to_string().contains("computed"),
		"{err}"
	);
	assert!(!out.exists(), "no file is presented as complete");

	// The same download through no proxy verifies.
	download(&options(&node.url(), &out, 1), quiet())
		.await
		.expect("honest node");
}

/// A raw dev chain spec whose genesis also holds `key` = `value` (written to `dir`).
async fn dev_spec_with(dir: &Path, key: &[u8], value: Vec<u8>) -> PathBuf {
	let mut cmd = std::process::Command::new(stagenet_fork_tests::harness::node_binary());
	cmd.args(["build-spec", "--chain", "dev", "--raw"]);
	let out = tokio::task::spawn_blocking(move || {
		stagenet_test_support::output_within(cmd, std::time::Duration::from_secs(120))
	})
	.await
	.expect("build-spec task");
	assert!(
		out.status.success(),
		"{}",
		String::from_utf8_lossy(&out.stderr)
	);
	let mut spec: serde_json::Value = serde_json::from_slice(&out.stdout).expect("spec JSON");
	spec["genesis"]["raw"]["top"][format!("0x{}", hex::encode(key))] =
		serde_json::Value::String(format!("0x{}", hex::encode(value)));
	let path = dir.join(format!("spec-{}.json", hex::encode(key)));
	std::fs::write(&path, serde_json::to_vec(&spec).expect("encode spec")).expect("write spec");
	path
}

#[tokio::test]
async fn value_batches_shrink_to_the_node_response_limit_and_a_too_large_value_is_named() {
	stagenet_test_support::require!(TestChain);
	let dir = out_dir("limit");
	// Responses of at most 1 MB: `:code` (~0.4 MB, 0.8 MB as hex) and a 0.4 MB value in the
	// same batch do not fit together; each fits alone.
	let spec = dev_spec_with(&dir, b":stagenet:big", vec![0x5a; 400_000]).await;
	let node = SoloNode::start(
		"snap-limit",
		&[
			"--chain",
			&spec.to_string_lossy(),
			"--rpc-max-response-size",
			"1",
		],
	)
	.await;
	let out = dir.join("fits.snap");
	let s = download(&options(&node.url(), &out, 1), quiet())
		.await
		.expect("smaller batches fit");
	assert!(s.header.verified);
	assert_eq!(
		pairs_of(&out)[&None]
			.get(&b":stagenet:big"[..])
			.map(Vec::len),
		Some(400_000)
	);
	drop(node);

	// A value that does not fit in one response on its own is named, with the node flag.
	let spec = dev_spec_with(&dir, b":stagenet:huge", vec![0x5b; 700_000]).await;
	let node = SoloNode::start(
		"snap-limit-huge",
		&[
			"--chain",
			&spec.to_string_lossy(),
			"--rpc-max-response-size",
			"1",
		],
	)
	.await;
	let err = download(&options(&node.url(), &dir.join("huge.snap"), 1), quiet())
		.await
		.expect_err("a 1.4 MB response cannot pass a 1 MB limit");
	let want = format!("0x{}", hex::encode(b":stagenet:huge"));
	assert!(
		matches!(&err, SnapshotError::ResponseTooLarge { key, .. } if key == &want),
		"{err}"
	);
	assert!(err.to_string().contains("--rpc-max-response-size"), "{err}");
}
