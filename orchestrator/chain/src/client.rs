//! A small client of the test chain for end-to-end tests: sudo and signed calls that wait until
//! they are in a best block (not finalized: some tests stop finality), and dynamic reads of
//! storage, constants and events.
//!
//! Everything is dynamic (no generated code): calls and storage items are named by pallet and
//! item, and encoded or decoded with the metadata of the runtime at the block in question, so a
//! runtime upgrade during a test (new metadata) is followed without reconnecting.
//!
//! The client speaks the legacy JSON-RPC methods only (`chain_*`, `state_*`,
//! `author_submitAndWatchExtrinsic`): they reach any block by hash, report inclusion in best
//! blocks and do not depend on finality, unlike the `chainHead_v1` subscription.
//!
//! Which metadata decodes what:
//! - storage and constants read at block `H` use the metadata of the runtime stored in the
//!   state of `H` (what subxt's `at_block(H)` fetches, cached per spec version);
//! - events of block `H` use the metadata of `H`'s parent, because block `H` was executed by the
//!   parent's runtime. The two differ only at the block that contains `System::set_code`, whose
//!   events were emitted by the old runtime while its state already holds the new code.

use std::{
	sync::Arc,
	time::{Duration, Instant},
};
use subxt::{
	backend::LegacyBackend,
	config::{substrate::SubstrateHeader, RpcConfigFor, SubstrateExtrinsicParamsBuilder},
	dynamic::{At, Value},
	events::{Events, Phase},
	ext::{
		scale_decode::DecodeAsType,
		scale_encode::{self, EncodeAsFields, EncodeAsType, TypeResolver},
		scale_value::ValueDef,
	},
	rpcs::{methods::legacy::NumberOrHex, LegacyRpcMethods, RpcClient},
	transactions::{Payload, TransactionStatus},
	utils::H256,
	ArcMetadata, Metadata, OnlineClient, OnlineClientAtBlock, SubstrateConfig,
};
use crate::hash::blake2_256;
use subxt_signer::sr25519::{dev, Keypair};

/// How long [`Chain::connect`] keeps retrying while the node is not up yet.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two connection attempts.
const CONNECT_RETRY_EVERY: Duration = Duration::from_millis(500);
/// How long a submitted extrinsic may take to be in a best block.
const INCLUSION_TIMEOUT: Duration = Duration::from_secs(120);

type Config = SubstrateConfig;
type AtBlock = OnlineClientAtBlock<Config>;
type Header = SubstrateHeader<H256>;

/// A boxed error of a lower layer (RPC client, subxt, decoding).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
	/// A request to the node failed, or what it returned could not be decoded.
	#[error("{context}: {source}")]
	Client {
		/// What was being done.
		context: String,
		/// Why it failed.
		#[source]
		source: BoxError,
	},
	/// The node answered, but not as expected (missing block, event, malformed value…).
	#[error("{0}")]
	Unexpected(String),
	/// An extrinsic (or the call wrapped by sudo) was included but its dispatch failed.
	#[error("{call} failed to dispatch in block #{number} ({hash:?}): {error}")]
	Dispatch {
		/// `Pallet::call` of the call that failed.
		call: String,
		/// The dispatch error, e.g. `Subnets::SettingWeightsTooFast` or `BadOrigin`.
		error: String,
		/// Hash of the block that included the extrinsic.
		hash: H256,
		/// Number of that block.
		number: u64,
	},
}

/// Result of this module.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;

/// A transaction the runtime or the node's pool refused, with the reason as given
/// (`Pallet::Error`, `BadOrigin`, `invalid: …`, the pool's message): an outcome to report, not
/// a failure to reach the node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refused {
	/// Why.
	pub reason: String,
}

impl Refused {
	fn new(reason: impl Into<String>) -> Self {
		Self {
			reason: reason.into(),
		}
	}
}

impl From<&str> for Refused {
	fn from(reason: &str) -> Self {
		Self::new(reason)
	}
}

/// Adds context to the errors of lower layers.
trait Context<T> {
	/// Turns the error into [`ChainError::Client`] described by `what()`.
	fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
	fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
		self.map_err(|e| ChainError::Client {
			context: what(),
			source: Box::new(e),
		})
	}
}

/// A block that included an extrinsic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InBlock {
	/// Hash of the block.
	pub hash: H256,
	/// Number of the block.
	pub number: u64,
}

/// What became of a signed extrinsic included in a best block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
	/// The block that included it.
	pub block: InBlock,
	/// `None` when it dispatched successfully, otherwise the dispatch error: `Pallet::Error` for
	/// a module error (e.g. `Subnets::SettingWeightsTooFast`), else the variant of
	/// `DispatchError` (e.g. `BadOrigin`, `Token::FundsUnavailable`).
	pub error: Option<String>,
}

impl Outcome {
	/// Whether the extrinsic dispatched successfully.
	pub fn succeeded(&self) -> bool {
		self.error.is_none()
	}
}

/// An extrinsic of ours found in a block, with the events of that block.
struct Inclusion {
	block: InBlock,
	/// Index of the extrinsic in the block.
	index: u32,
	/// Events of the block, decoded with the metadata of the runtime that executed it.
	events: Events<Config>,
	/// That metadata.
	metadata: ArcMetadata,
}

/// An already SCALE-encoded runtime call, written as is in place of a `RuntimeCall` argument
/// (the `call` of `Sudo::sudo`, `Sudo::sudo_as`, …).
pub struct EncodedCall(pub Vec<u8>);

impl EncodeAsType for EncodedCall {
	fn encode_as_type_to<R: TypeResolver>(
		&self,
		_type_id: R::TypeId,
		_types: &R,
		out: &mut Vec<u8>,
	) -> Result<(), scale_encode::Error> {
		out.extend_from_slice(&self.0);
		Ok(())
	}
}

/// A connection to one node of the test chain.
#[derive(Clone)]
pub struct Chain {
	url: String,
	client: OnlineClient<Config>,
	rpc: LegacyRpcMethods<RpcConfigFor<Config>>,
	raw: RpcClient,
}

impl std::fmt::Debug for Chain {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("Chain")
			.field("url", &self.url)
			.finish_non_exhaustive()
	}
}

impl Chain {
	/// Connects to the node at `url` (`ws://127.0.0.1:port`; insecure URLs are allowed),
	/// retrying for up to 30 s while the node is not up yet.
	pub async fn connect(url: &str) -> Result<Chain> {
		let deadline = Instant::now() + CONNECT_TIMEOUT;
		loop {
			let left = deadline.saturating_duration_since(Instant::now());
			let last = match tokio::time::timeout(
				left.max(Duration::from_secs(1)),
				Self::try_connect(url),
			)
			.await
			{
				Ok(Ok(chain)) => return Ok(chain),
				Ok(Err(e)) => e.to_string(),
				Err(_) => "connection attempt timed out".to_string(),
			};
			if Instant::now() >= deadline {
				return Err(ChainError::Unexpected(format!(
					"node at {url} not reachable within {CONNECT_TIMEOUT:?}; last error: {last}"
				)));
			}
			tokio::time::sleep(CONNECT_RETRY_EVERY).await;
		}
	}

	/// One connection attempt: RPC client, subxt client and a first request.
	async fn try_connect(url: &str) -> Result<Chain> {
		let rpc_client = RpcClient::from_insecure_url(url)
			.await
			.ctx(|| format!("connect to {url}"))?;
		let backend = LegacyBackend::<Config>::builder().build(rpc_client.clone());
		let client = OnlineClient::<Config>::from_backend(Arc::new(backend))
			.await
			.ctx(|| format!("create a client of {url}"))?;
		let chain = Chain {
			url: url.to_string(),
			client,
			rpc: LegacyRpcMethods::new(rpc_client.clone()),
			raw: rpc_client,
		};
		chain.best_hash().await?;
		Ok(chain)
	}

	/// The URL this connects to.
	pub fn url(&self) -> &str {
		&self.url
	}

	/// The underlying subxt client, for what this API does not cover.
	pub fn client(&self) -> &OnlineClient<Config> {
		&self.client
	}

	// ----- Extrinsics -----

	/// Calls `pallet::call(args)` as root: wraps it in
	/// `Sudo::sudo_unchecked_weight { call, weight: 0 }`, signs with Alice (the sudo key),
	/// submits, and waits until it is in a best block. Fails if the extrinsic failed, or if the
	/// `Sudo::Sudid` event reports that the inner call failed (the error names the dispatch error).
	/// `args` are the call's arguments in order.
	pub async fn sudo(&self, pallet: &str, call: &str, args: Vec<Value>) -> Result<InBlock> {
		self.sudo_with(pallet, call, args).await
	}

	/// Replaces the runtime the other way: `sudo(System::authorize_upgrade { code_hash })`,
	/// then `System::apply_authorized_upgrade { code }` signed by Alice (free of fees when
	/// the code matches the authorized hash). Returns the block that applied it.
	pub async fn authorize_and_apply_upgrade(&self, wasm: &[u8]) -> Result<InBlock> {
		let hash = blake2_256(wasm);
		self.sudo_with("System", "authorize_upgrade", (hash,))
			.await?;
		let outcome = self
			.signed_with(&dev::alice(), "System", "apply_authorized_upgrade", (wasm,))
			.await?;
		match outcome.error {
			None => Ok(outcome.block),
			Some(error) => Err(dispatch_error(
				"System::apply_authorized_upgrade".into(),
				error,
				outcome.block,
			)),
		}
	}

	/// A JSON-RPC request, answered as `T`.
	pub async fn request<T: serde::de::DeserializeOwned>(
		&self,
		method: &str,
		params: Vec<serde_json::Value>,
	) -> Result<T> {
		let mut p = subxt::rpcs::client::RpcParams::new();
		for v in params {
			p.push(v)
				.ctx(|| format!("encode the parameters of {method}"))?;
		}
		self.raw
			.request(method, p)
			.await
			.ctx(|| format!("{method} on {}", self.url))
	}

	/// Spec name and version of the runtime in the state of block `hash`.
	pub async fn runtime_version_at(&self, hash: H256) -> Result<(String, u32)> {
		let v: serde_json::Value = self
			.request("state_getRuntimeVersion", vec![serde_json::json!(hash)])
			.await?;
		let name = v
			.get("specName")
			.and_then(|n| n.as_str())
			.unwrap_or("?")
			.to_string();
		let version = v
			.get("specVersion")
			.and_then(|n| n.as_u64())
			.and_then(|n| u32::try_from(n).ok())
			.ok_or_else(|| {
				ChainError::Unexpected(format!(
					"runtime version at {hash:?} without specVersion: {v}"
				))
			})?;
		Ok((name, version))
	}

	/// The Aura slot duration (`AuraApi_slot_duration` at the best block).
	pub async fn slot_duration(&self) -> Result<Duration> {
		let answer: String = self
			.request(
				"state_call",
				vec![
					serde_json::json!("AuraApi_slot_duration"),
					serde_json::json!("0x"),
				],
			)
			.await?;
		let bytes = hex::decode(answer.trim_start_matches("0x"))
			.map_err(|e| ChainError::Unexpected(format!("AuraApi_slot_duration: {e}")))?;
		let ms = <[u8; 8]>::try_from(bytes.as_slice())
			.map(u64::from_le_bytes)
			.map_err(|_| {
				ChainError::Unexpected(format!(
					"AuraApi_slot_duration answered {} bytes, expected 8",
					bytes.len()
				))
			})?;
		Ok(Duration::from_millis(ms))
	}

	/// `Pallet.Variant` of every event of block `hash`, in order.
	pub async fn event_names_at(&self, hash: H256) -> Result<Vec<String>> {
		let header = self.header(Some(hash)).await?;
		let (events, _) = self.events_of(hash, &header).await?;
		let mut out = Vec::new();
		for event in events.iter() {
			let event = event.ctx(|| format!("decode the events of block #{}", header.number))?;
			out.push(format!("{}.{}", event.pallet_name(), event.event_name()));
		}
		Ok(out)
	}

	/// `ref_time` of `System::BlockWeights.max_block` of the runtime in block `hash`'s state.
	pub async fn max_block_ref_time_at(&self, hash: H256) -> Result<u128> {
		let at = self.at(hash).await?;
		let value = at
			.constants()
			.entry(subxt::dynamic::constant::<Value>("System", "BlockWeights"))
			.ctx(|| "constant System::BlockWeights".to_string())?;
		value
			.at("max_block")
			.at("ref_time")
			.and_then(|v| v.as_u128())
			.ok_or_else(|| {
				ChainError::Unexpected(format!(
					"System::BlockWeights has no max_block.ref_time: {value}"
				))
			})
	}

	/// Every value of the map (or the one value) `pallet::item` at block `hash`, decoded as
	/// integers: (sum, count). Values that are not integers are an error.
	pub async fn storage_integers_at(
		&self,
		hash: H256,
		pallet: &str,
		item: &str,
	) -> Result<(u128, u64)> {
		self.storage_fold_at(hash, pallet, item, true).await
	}

	/// The number of entries of the map `pallet::item` at block `hash` (1 or 0 for a plain
	/// value), whatever the type of its values.
	pub async fn storage_count_at(&self, hash: H256, pallet: &str, item: &str) -> Result<u64> {
		Ok(self.storage_fold_at(hash, pallet, item, false).await?.1)
	}

	/// (sum of the values when `sum`, else 0; number of entries).
	async fn storage_fold_at(
		&self,
		hash: H256,
		pallet: &str,
		item: &str,
		sum_values: bool,
	) -> Result<(u128, u64)> {
		let at = self.at(hash).await?;
		let address = subxt::dynamic::storage::<Vec<Value>, Value>(pallet, item);
		let storage = at.storage();
		let entry = storage
			.entry(address)
			.ctx(|| format!("storage item {pallet}::{item}"))?;
		let as_int = |v: &Value| -> Result<u128> {
			v.as_u128()
				.or_else(|| v.at(0).and_then(|x| x.as_u128()))
				.ok_or_else(|| {
					ChainError::Unexpected(format!(
						"a value of {pallet}::{item} is not an integer: {v}"
					))
				})
		};
		if entry.is_plain() {
			let value = self
				.storage_value_at::<Value>(hash, pallet, item, vec![])
				.await?;
			return match value {
				Some(v) if sum_values => Ok((as_int(&v)?, 1)),
				Some(_) => Ok((0, 1)),
				None => Ok((0, 0)),
			};
		}
		let mut entries = entry
			.iter(Vec::<Value>::new())
			.await
			.ctx(|| format!("iterate {pallet}::{item} at {hash:?}"))?;
		let (mut sum, mut count) = (0u128, 0u64);
		while let Some(kv) = entries.next().await {
			let kv = kv.ctx(|| format!("iterate {pallet}::{item} at {hash:?}"))?;
			if sum_values {
				let value: Value = kv
					.value()
					.decode()
					.ctx(|| format!("decode an entry of {pallet}::{item}"))?;
				sum = sum.saturating_add(as_int(&value)?);
			}
			count += 1;
		}
		Ok((sum, count))
	}

	/// Replaces the runtime: `sudo(System::set_code { code: wasm })`. The new runtime is in the
	/// state of the returned block; its migrations run in the next block.
	pub async fn sudo_set_code(&self, wasm: &[u8]) -> Result<InBlock> {
		self.sudo_with("System", "set_code", (wasm,)).await
	}

	/// [`Self::sudo`] with call arguments of any encodable type.
	async fn sudo_with<D: EncodeAsFields>(
		&self,
		pallet: &str,
		call: &str,
		args: D,
	) -> Result<InBlock> {
		let what = format!("Sudo::sudo_unchecked_weight({pallet}::{call})");
		let best = self.best_hash().await?;
		let at = self.at(best).await?;
		let inner = at
			.transactions()
			.call_data(&subxt::dynamic::transaction(pallet, call, args))
			.ctx(|| format!("encode the call {pallet}::{call}"))?;
		let weight =
			Value::named_composite([("ref_time", Value::u128(0)), ("proof_size", Value::u128(0))]);
		let payload = subxt::dynamic::transaction(
			"Sudo",
			"sudo_unchecked_weight",
			(EncodedCall(inner), weight),
		);
		let inclusion = self.submit(&at, &dev::alice(), &payload, &what).await?;
		if let Some(error) = extrinsic_error(&inclusion)? {
			return Err(dispatch_error(what, error, inclusion.block));
		}
		let mut sudid = None;
		for event in inclusion.events.iter() {
			let event =
				event.ctx(|| format!("decode the events of block #{}", inclusion.block.number))?;
			if event.phase() == Phase::ApplyExtrinsic(inclusion.index)
				&& event.pallet_name() == "Sudo"
				&& event.event_name() == "Sudid"
			{
				let fields = event
					.decode_fields_unchecked_as::<Value>()
					.ctx(|| "decode Sudo::Sudid".to_string())?;
				sudid = Some(fields);
			}
		}
		let Some(fields) = sudid else {
			return Err(ChainError::Unexpected(format!(
				"{what}: no Sudo::Sudid event in block #{}",
				inclusion.block.number
			)));
		};
		let result = fields.at("sudo_result").ok_or_else(|| {
			ChainError::Unexpected(format!("{what}: Sudo::Sudid without sudo_result: {fields}"))
		})?;
		match &result.value {
			ValueDef::Variant(v) if v.name == "Ok" => Ok(inclusion.block),
			ValueDef::Variant(v) if v.name == "Err" => {
				let error = match v.values.values().next() {
					Some(e) => dispatch_error_name(e, &inclusion.metadata),
					None => format!("{result}"),
				};
				Err(dispatch_error(
					format!("{pallet}::{call} (as root)"),
					error,
					inclusion.block,
				))
			}
			_ => Err(ChainError::Unexpected(format!(
				"{what}: unexpected sudo_result {result}"
			))),
		}
	}

	/// Submits `pallet::call(args)` signed by `signer` and waits until it is in a best block.
	/// A failed dispatch is not an error: it is reported in [`Outcome::error`].
	pub async fn signed(
		&self,
		signer: &Keypair,
		pallet: &str,
		call: &str,
		args: Vec<Value>,
	) -> Result<Outcome> {
		self.signed_with(signer, pallet, call, args).await
	}

	/// [`Self::signed`] with call arguments of any encodable type.
	async fn signed_with<D: EncodeAsFields>(
		&self,
		signer: &Keypair,
		pallet: &str,
		call: &str,
		args: D,
	) -> Result<Outcome> {
		let best = self.best_hash().await?;
		let at = self.at(best).await?;
		let payload = subxt::dynamic::transaction(pallet, call, args);
		let inclusion = self
			.submit(&at, signer, &payload, &format!("{pallet}::{call}"))
			.await?;
		let error = extrinsic_error(&inclusion)?;
		Ok(Outcome {
			block: inclusion.block,
			error,
		})
	}

	/// Signs `payload` against block `at` (immortal, nonce and metadata of that block), submits
	/// it, waits until it is in a best block and returns that block with its events.
	async fn submit<P: Payload>(
		&self,
		at: &AtBlock,
		signer: &Keypair,
		payload: &P,
		what: &str,
	) -> Result<Inclusion> {
		let params = SubstrateExtrinsicParamsBuilder::<Config>::new()
			.immortal()
			.build();
		let signed = at
			.transactions()
			.create_signed(payload, signer, params)
			.await
			.ctx(|| format!("{what}: build and sign the extrinsic"))?;
		let encoded = signed.encoded().to_vec();
		let mut progress = signed
			.submit_and_watch()
			.await
			.ctx(|| format!("{what}: submit"))?;
		let wait = async {
			while let Some(status) = progress.next().await {
				match status.ctx(|| format!("{what}: watch the extrinsic"))? {
					TransactionStatus::InBestBlock(b) | TransactionStatus::InFinalizedBlock(b) => {
						return Ok(b.block_hash());
					}
					TransactionStatus::Invalid { message } => {
						return Err(ChainError::Unexpected(format!(
							"{what}: invalid: {message}"
						)));
					}
					TransactionStatus::Dropped { message } => {
						return Err(ChainError::Unexpected(format!(
							"{what}: dropped: {message}"
						)));
					}
					TransactionStatus::Error { message } => {
						return Err(ChainError::Unexpected(format!("{what}: error: {message}")));
					}
					TransactionStatus::Validated
					| TransactionStatus::Broadcasted
					| TransactionStatus::NoLongerInBestBlock => {}
				}
			}
			Err(ChainError::Unexpected(format!(
				"{what}: the node stopped reporting the extrinsic's status"
			)))
		};
		let hash = tokio::time::timeout(INCLUSION_TIMEOUT, wait)
			.await
			.map_err(|_| {
				ChainError::Unexpected(format!(
					"{what}: not in a best block after {INCLUSION_TIMEOUT:?}"
				))
			})??;

		let details = self
			.rpc
			.chain_get_block(Some(hash))
			.await
			.ctx(|| format!("{what}: fetch block {hash:?}"))?
			.ok_or_else(|| ChainError::Unexpected(format!("{what}: block {hash:?} not found")))?;
		let block = InBlock {
			hash,
			number: details.block.header.number,
		};
		let index = details
			.block
			.extrinsics
			.iter()
			.position(|x| x.0 == encoded)
			.ok_or_else(|| {
				ChainError::Unexpected(format!("{what}: not found in block #{}", block.number))
			})?;
		let index = u32::try_from(index).map_err(|_| {
			ChainError::Unexpected(format!("{what}: extrinsic index {index} out of range"))
		})?;
		let (events, metadata) = self.events_of(hash, &details.block.header).await?;
		Ok(Inclusion {
			block,
			index,
			events,
			metadata,
		})
	}

	// ----- Blocks -----

	/// Hash of the best block.
	pub async fn best_hash(&self) -> Result<H256> {
		self.rpc
			.chain_get_block_hash(None)
			.await
			.ctx(|| format!("best block hash from {}", self.url))?
			.ok_or_else(|| ChainError::Unexpected(format!("{} reported no best block", self.url)))
	}

	/// Number of the best block.
	pub async fn best_number(&self) -> Result<u64> {
		Ok(self.header(None).await?.number)
	}

	/// Number of the last finalized block.
	pub async fn finalized_number(&self) -> Result<u64> {
		let hash = self
			.rpc
			.chain_get_finalized_head()
			.await
			.ctx(|| format!("finalized head from {}", self.url))?;
		Ok(self.header(Some(hash)).await?.number)
	}

	/// Hash of block `number` of the best chain, `None` when there is no such block yet.
	pub async fn block_hash(&self, number: u64) -> Result<Option<H256>> {
		self.rpc
			.chain_get_block_hash(Some(NumberOrHex::Number(number)))
			.await
			.ctx(|| format!("hash of block #{number}"))
	}

	/// The header of block `hash`, of the best block when `None`.
	async fn header(&self, hash: Option<H256>) -> Result<Header> {
		self.rpc
			.chain_get_header(hash)
			.await
			.ctx(|| format!("header of block {hash:?}"))?
			.ok_or_else(|| ChainError::Unexpected(format!("block {hash:?} not found")))
	}

	/// A client at block `hash`, with the metadata of the runtime in that block's state.
	async fn at(&self, hash: H256) -> Result<AtBlock> {
		self.client
			.at_block(hash)
			.await
			.ctx(|| format!("client at block {hash:?}"))
	}

	// ----- Runtime version -----

	/// Spec version of the runtime in the best block's state, as the node reports it now.
	pub async fn spec_version(&self) -> Result<u32> {
		let version = self
			.rpc
			.state_get_runtime_version(None)
			.await
			.ctx(|| "runtime version".to_string())?;
		Ok(version.spec_version)
	}

	/// Spec version of the runtime in the state of block `hash`.
	pub async fn spec_version_at(&self, hash: H256) -> Result<u32> {
		let version = self
			.rpc
			.state_get_runtime_version(Some(hash))
			.await
			.ctx(|| format!("runtime version at {hash:?}"))?;
		Ok(version.spec_version)
	}

	// ----- Storage and constants -----

	/// The value of storage item `pallet::item` under `keys` (one per hasher of the map, none
	/// for a plain value) at the best block, decoded as `V`. `None` when the entry is absent and
	/// the item has no default (`OptionQuery`); a `ValueQuery` item gives its default.
	pub async fn storage_value<V: DecodeAsType>(
		&self,
		pallet: &str,
		item: &str,
		keys: Vec<Value>,
	) -> Result<Option<V>> {
		let best = self.best_hash().await?;
		self.storage_value_at(best, pallet, item, keys).await
	}

	/// [`Self::storage_value`] at block `hash`.
	pub async fn storage_value_at<V: DecodeAsType>(
		&self,
		hash: H256,
		pallet: &str,
		item: &str,
		keys: Vec<Value>,
	) -> Result<Option<V>> {
		let at = self.at(hash).await?;
		let address = subxt::dynamic::storage::<Vec<Value>, V>(pallet, item);
		let value = at
			.storage()
			.try_fetch(address, keys)
			.await
			.ctx(|| format!("read {pallet}::{item} at {hash:?}"))?;
		match value {
			None => Ok(None),
			Some(v) => v
				.decode()
				.map(Some)
				.ctx(|| format!("decode {pallet}::{item} at {hash:?}")),
		}
	}

	/// Sum and count of all entries of the map `pallet::item`, whose values are `u64`, at the
	/// best block.
	pub async fn storage_sum_u64(&self, pallet: &str, item: &str) -> Result<(u64, usize)> {
		let best = self.best_hash().await?;
		self.storage_sum_u64_at(best, pallet, item).await
	}

	/// [`Self::storage_sum_u64`] at block `hash`.
	pub async fn storage_sum_u64_at(
		&self,
		hash: H256,
		pallet: &str,
		item: &str,
	) -> Result<(u64, usize)> {
		let at = self.at(hash).await?;
		let address = subxt::dynamic::storage::<Vec<Value>, u64>(pallet, item);
		let storage = at.storage();
		let entry = storage
			.entry(address)
			.ctx(|| format!("storage item {pallet}::{item}"))?;
		if entry.is_plain() {
			return Err(ChainError::Unexpected(format!(
				"{pallet}::{item} is a plain value, not a map"
			)));
		}
		let mut entries = entry
			.iter(Vec::<Value>::new())
			.await
			.ctx(|| format!("iterate {pallet}::{item} at {hash:?}"))?;
		let (mut sum, mut count) = (0u64, 0usize);
		while let Some(kv) = entries.next().await {
			let kv = kv.ctx(|| format!("iterate {pallet}::{item} at {hash:?}"))?;
			let value = kv
				.value()
				.decode()
				.ctx(|| format!("decode an entry of {pallet}::{item}"))?;
			sum = sum.checked_add(value).ok_or_else(|| {
				ChainError::Unexpected(format!("the sum of {pallet}::{item} overflows u64"))
			})?;
			count += 1;
		}
		Ok((sum, count))
	}

	/// `ref_time` of `System::BlockWeight` at block `hash`, per dispatch class:
	/// `[normal, operational, mandatory]`, in picoseconds.
	pub async fn block_weight_at(&self, hash: H256) -> Result<[u128; 3]> {
		let value = self
			.storage_value_at::<Value>(hash, "System", "BlockWeight", vec![])
			.await?
			.ok_or_else(|| {
				ChainError::Unexpected(format!("System::BlockWeight absent at {hash:?}"))
			})?;
		let mut weights = [0u128; 3];
		for (slot, class) in weights
			.iter_mut()
			.zip(["normal", "operational", "mandatory"])
		{
			*slot = value
				.at(class)
				.at("ref_time")
				.and_then(|v| v.as_u128())
				.ok_or_else(|| {
					ChainError::Unexpected(format!(
						"System::BlockWeight at {hash:?} has no {class}.ref_time: {value}"
					))
				})?;
		}
		Ok(weights)
	}

	/// `ref_time` of the maximum block weight: the constant `System::BlockWeights.max_block`, of
	/// the runtime of the best block.
	pub async fn max_block_ref_time(&self) -> Result<u128> {
		let best = self.best_hash().await?;
		self.max_block_ref_time_at(best).await
	}

	// ----- Raw extrinsics (sealing and exact rate-limit checks) -----

	/// Signs `pallet::call(args)` by `signer` against block `at` (immortal; the nonce and
	/// metadata of that block) and returns the encoded extrinsic without submitting it.
	pub async fn sign_at(
		&self,
		at: H256,
		signer: &Keypair,
		pallet: &str,
		call: &str,
		args: Vec<Value>,
	) -> Result<Vec<u8>> {
		let at_block = self.at(at).await?;
		let params = SubstrateExtrinsicParamsBuilder::<Config>::new()
			.immortal()
			.build();
		let payload = subxt::dynamic::transaction(pallet, call, args);
		let signed = at_block
			.transactions()
			.create_signed(&payload, signer, params)
			.await
			.ctx(|| format!("{pallet}::{call}: build and sign the extrinsic"))?;
		Ok(signed.encoded().to_vec())
	}

	/// Applies `extrinsic` on the state of block `at` without including it (`system_dryRun`):
	/// `Ok(())`, or the error as `Pallet::Error`, `BadOrigin` … or `invalid: …` when the
	/// transaction itself is refused. The runtime sees block `at`'s number as the current one.
	pub async fn dry_run(
		&self,
		extrinsic: &[u8],
		at: H256,
	) -> Result<std::result::Result<(), Refused>> {
		let bytes = self
			.rpc
			.dry_run(extrinsic, Some(at))
			.await
			.ctx(|| format!("system_dryRun at {at:?}"))?;
		let metadata = self.at(at).await?.metadata();
		let b = &bytes.0;
		match (b.first(), b.get(1)) {
			(Some(0), Some(0)) => Ok(Ok(())),
			(Some(0), Some(1)) => {
				// DispatchError: variant 3 is `Module { index, error: [u8; 4] }`.
				if b.get(2) == Some(&3) && b.len() >= 5 {
					let name = metadata
						.pallet_by_error_index(b[3])
						.and_then(|p| {
							p.error_variant_by_index(b[4])
								.map(|v| format!("{}::{}", p.name(), v.name))
						})
						.unwrap_or_else(|| format!("Module({}, {})", b[3], b[4]));
					Ok(Err(Refused::new(name)))
				} else {
					Ok(Err(Refused::new(format!(
						"dispatch error 0x{}",
						hex::encode(&b[2..])
					))))
				}
			}
			_ => Ok(Err(Refused::new(format!("invalid: 0x{}", hex::encode(b))))),
		}
	}

	/// Submits an encoded extrinsic as it is (`author_submitExtrinsic`); the node's error
	/// message when it refuses it.
	pub async fn submit_raw(&self, extrinsic: &[u8]) -> std::result::Result<H256, Refused> {
		self.rpc
			.author_submit_extrinsic(extrinsic)
			.await
			.map_err(|e| Refused::new(e.to_string()))
	}

	/// Hash of block `number` on the best chain, waiting until it exists.
	pub async fn wait_block_hash(&self, number: u64, timeout: Duration) -> Result<H256> {
		let deadline = Instant::now() + timeout;
		loop {
			if let Some(h) = self.block_hash(number).await? {
				return Ok(h);
			}
			if Instant::now() >= deadline {
				let best = self.best_number().await.unwrap_or(0);
				return Err(ChainError::Unexpected(format!(
					"block #{number} not produced within {timeout:?} (best #{best} on {})",
					self.url
				)));
			}
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
	}

	/// The header of block `hash`: (state root, number).
	pub async fn state_root_at(&self, hash: H256) -> Result<H256> {
		Ok(self.header(Some(hash)).await?.state_root)
	}

	/// A raw storage value at block `hash`.
	pub async fn storage_raw(&self, key: &[u8], hash: H256) -> Result<Option<Vec<u8>>> {
		self.rpc
			.state_get_storage(key, Some(hash))
			.await
			.ctx(|| format!("read 0x{} at {hash:?}", hex::encode(key)))
	}

	/// Fields of every `pallet::variant` event in block `hash`, decoded.
	pub async fn events_at(&self, hash: H256, pallet: &str, variant: &str) -> Result<Vec<Value>> {
		let header = self.header(Some(hash)).await?;
		let (events, _) = self.events_of(hash, &header).await?;
		let mut out = Vec::new();
		for event in events.iter() {
			let event = event.ctx(|| format!("decode the events of block #{}", header.number))?;
			if event.pallet_name() == pallet && event.event_name() == variant {
				out.push(
					event
						.decode_fields_unchecked_as::<Value>()
						.ctx(|| format!("decode {pallet}::{variant}"))?,
				);
			}
		}
		Ok(out)
	}

	// ----- Events -----

	/// Number of events `pallet::variant` emitted in block `hash`.
	pub async fn events_named_at(&self, hash: H256, pallet: &str, variant: &str) -> Result<usize> {
		let header = self.header(Some(hash)).await?;
		let (events, _) = self.events_of(hash, &header).await?;
		let mut count = 0;
		for event in events.iter() {
			let event = event.ctx(|| format!("decode the events of block #{}", header.number))?;
			if event.pallet_name() == pallet && event.event_name() == variant {
				count += 1;
			}
		}
		Ok(count)
	}

	/// The events of block `hash` (whose header is `header`), with the metadata of the runtime
	/// that executed the block: the one in its parent's state.
	async fn events_of(
		&self,
		hash: H256,
		header: &Header,
	) -> Result<(Events<Config>, ArcMetadata)> {
		let executed_by = if header.number == 0 {
			self.at(hash).await?
		} else {
			self.at(header.parent_hash).await?
		};
		let key = subxt::ext::frame_decode::storage::encode_storage_key_prefix("System", "Events");
		let bytes = self
			.rpc
			.state_get_storage(&key, Some(hash))
			.await
			.ctx(|| format!("read System::Events at {hash:?}"))?
			.unwrap_or_default();
		Ok((
			executed_by.events().from_bytes(bytes),
			executed_by.metadata(),
		))
	}
}

/// The dispatch error of our extrinsic when a `System::ExtrinsicFailed` event reports it.
fn extrinsic_error(inclusion: &Inclusion) -> Result<Option<String>> {
	for event in inclusion.events.iter() {
		let event =
			event.ctx(|| format!("decode the events of block #{}", inclusion.block.number))?;
		if event.phase() != Phase::ApplyExtrinsic(inclusion.index) {
			continue;
		}
		if event.pallet_name() == "System" && event.event_name() == "ExtrinsicFailed" {
			let fields = event
				.decode_fields_unchecked_as::<Value>()
				.ctx(|| "decode System::ExtrinsicFailed".to_string())?;
			let name = match fields.at("dispatch_error") {
				Some(e) => dispatch_error_name(e, &inclusion.metadata),
				None => format!("{fields}"),
			};
			return Ok(Some(name));
		}
	}
	Ok(None)
}

/// A readable name of a decoded `DispatchError`: `Pallet::Error` for a module error (named
/// through `metadata`, which must be that of the runtime that dispatched the call), else
/// `Variant` or `Variant::Inner` (e.g. `BadOrigin`, `Token::FundsUnavailable`).
pub fn dispatch_error_name<T>(
	error: &subxt::ext::scale_value::Value<T>,
	metadata: &Metadata,
) -> String {
	let ValueDef::Variant(variant) = &error.value else {
		return format!("{error}");
	};
	let inner = variant.values.values().next();
	if variant.name == "Module" {
		let pallet_index = inner.at("index").and_then(|v| v.as_u128());
		// `error` is `[u8; 4]` in current runtimes, a single `u8` in old ones.
		let error_field = inner.at("error");
		let error_index = error_field
			.at(0)
			.and_then(|v| v.as_u128())
			.or_else(|| error_field.and_then(|v| v.as_u128()));
		let name = pallet_index.zip(error_index).and_then(|(p, e)| {
			let pallet = metadata.pallet_by_error_index(u8::try_from(p).ok()?)?;
			let error = pallet.error_variant_by_index(u8::try_from(e).ok()?)?;
			Some(format!("{}::{}", pallet.name(), error.name))
		});
		return name.unwrap_or_else(|| format!("{error}"));
	}
	match inner.map(|v| &v.value) {
		Some(ValueDef::Variant(nested)) => format!("{}::{}", variant.name, nested.name),
		_ => variant.name.clone(),
	}
}


/// A [`ChainError::Dispatch`] of `call` included in `block`.
fn dispatch_error(call: String, error: String, block: InBlock) -> ChainError {
	ChainError::Dispatch {
		call,
		error,
		hash: block.hash,
		number: block.number,
	}
}

// ----- Replay (`stagenet replay`): explicit nonces, block bodies and events -----

/// An event of a block, decoded with the metadata of the runtime that executed the block.
#[derive(Debug, Clone)]
pub struct BlockEvent {
	/// The extrinsic that emitted it (phase `ApplyExtrinsic`); `None` during initialisation
	/// or finalisation.
	pub extrinsic: Option<u32>,
	/// Pallet name.
	pub pallet: String,
	/// Event name.
	pub variant: String,
	/// Its fields.
	pub fields: Value,
}

/// A block's extrinsics and events.
pub struct BlockContents {
	/// Block number.
	pub number: u64,
	/// Block hash.
	pub hash: H256,
	/// Each extrinsic's SCALE encoding (with its length prefix), in order.
	pub extrinsics: Vec<Vec<u8>>,
	/// Its events, in order.
	pub events: Vec<BlockEvent>,
	/// The metadata of the runtime that executed the block.
	metadata: ArcMetadata,
}

impl std::fmt::Debug for BlockContents {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("BlockContents")
			.field("number", &self.number)
			.field("hash", &self.hash)
			.field("extrinsics", &self.extrinsics.len())
			.field("events", &self.events.len())
			.finish_non_exhaustive()
	}
}

impl BlockContents {
	/// A readable name of a decoded `DispatchError` of this block: `Pallet::Error` for a
	/// module error (named by the runtime that executed the block), else the variant
	/// (`BadOrigin`, `Token::FundsUnavailable`).
	pub fn dispatch_error_name(&self, error: &Value) -> String {
		dispatch_error_name(error, &self.metadata)
	}

	/// The dispatch error of extrinsic `index` when its `System::ExtrinsicFailed` event
	/// reports one (`None`: it succeeded, or emitted no such event).
	pub fn failure_of(&self, index: u32) -> Option<String> {
		self.events
			.iter()
			.find(|e| {
				e.extrinsic == Some(index) && e.pallet == "System" && e.variant == "ExtrinsicFailed"
			})
			.map(|e| match e.fields.at("dispatch_error") {
				Some(error) => self.dispatch_error_name(error),
				None => e.fields.to_string(),
			})
	}
}

impl Chain {
	/// The metadata of the runtime in block `hash`'s state.
	pub async fn metadata_at(&self, hash: H256) -> Result<ArcMetadata> {
		Ok(self.at(hash).await?.metadata())
	}

	/// Signs `pallet::call(args)` by `signer` with `nonce`, immortal, with the metadata of
	/// block `at`; nothing is submitted and no nonce is read (the caller manages nonces).
	pub async fn sign_with_nonce<D: EncodeAsFields>(
		&self,
		at: H256,
		signer: &Keypair,
		pallet: &str,
		call: &str,
		args: D,
		nonce: u64,
	) -> Result<Vec<u8>> {
		let at_block = self.at(at).await?;
		let params = SubstrateExtrinsicParamsBuilder::<Config>::new()
			.immortal()
			.nonce(nonce)
			.build();
		let payload = subxt::dynamic::transaction(pallet, call, args);
		let signed = at_block
			.transactions()
			.create_signable_offline(&payload, params)
			.ctx(|| format!("{pallet}::{call}: build the extrinsic"))?
			.sign(signer)
			.ctx(|| format!("{pallet}::{call}: sign the extrinsic"))?;
		Ok(signed.encoded().to_vec())
	}

	/// Submits an encoded extrinsic as it is (`author_submitExtrinsic`): `Ok(Ok(hash))` when
	/// the pool accepted it, `Ok(Err(message))` when the node refused it (invalid, pool
	/// full, …), `Err` when the node could not be asked.
	pub async fn submit_extrinsic(
		&self,
		extrinsic: &[u8],
	) -> Result<std::result::Result<H256, Refused>> {
		match self.rpc.author_submit_extrinsic(extrinsic).await {
			Ok(hash) => Ok(Ok(hash)),
			Err(subxt::rpcs::Error::User(e)) => Ok(Err(Refused::new(match &e.data {
				Some(data) => format!("{} ({})", e.message, data.get()),
				None => e.message.clone(),
			}))),
			Err(e) => Err(ChainError::Client {
				context: format!("author_submitExtrinsic on {}", self.url),
				source: Box::new(e),
			}),
		}
	}

	/// The next nonce of `account` (SS58), counting the transactions in the node's pool
	/// (`system_accountNextIndex`).
	pub async fn account_next_index(&self, account: &str) -> Result<u64> {
		self.request("system_accountNextIndex", vec![serde_json::json!(account)])
			.await
	}

	/// Block `hash`'s extrinsics and events (decoded with the metadata of the runtime that
	/// executed it); `None` when the node does not know the block.
	pub async fn block_contents(&self, hash: H256) -> Result<Option<BlockContents>> {
		let Some(details) = self
			.rpc
			.chain_get_block(Some(hash))
			.await
			.ctx(|| format!("fetch block {hash:?}"))?
		else {
			return Ok(None);
		};
		let header = details.block.header;
		let (events, metadata) = self.events_of(hash, &header).await?;
		let mut decoded = Vec::new();
		for event in events.iter() {
			let event = event.ctx(|| format!("decode the events of block #{}", header.number))?;
			let extrinsic = match event.phase() {
				Phase::ApplyExtrinsic(i) => Some(i),
				_ => None,
			};
			let fields = event.decode_fields_unchecked_as::<Value>().ctx(|| {
				format!(
					"decode {}::{} of block #{}",
					event.pallet_name(),
					event.event_name(),
					header.number
				)
			})?;
			decoded.push(BlockEvent {
				extrinsic,
				pallet: event.pallet_name().to_string(),
				variant: event.event_name().to_string(),
				fields,
			});
		}
		Ok(Some(BlockContents {
			number: header.number,
			hash,
			extrinsics: details.block.extrinsics.into_iter().map(|x| x.0).collect(),
			events: decoded,
			metadata,
		}))
	}
}

// ----- For the stress generator -----

impl Chain {
	/// The subxt client at block `hash` (metadata and transaction building of that block).
	pub async fn at_block_client(&self, hash: H256) -> Result<OnlineClientAtBlock<Config>> {
		self.at(hash).await
	}
}
