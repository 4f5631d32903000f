//! A small pool of JSON-RPC (WebSocket) connections to one node, with reconnection and
//! backoff: a dropped connection is re-established and the call retried until the retry
//! window closes.
//!
//! Opening the first connection is checked, so that an endpoint that is not a node fails in
//! seconds instead of after the retry window: the URL must be `ws://` or `wss://`; the
//! WebSocket handshake must be answered within [`HANDSHAKE_TIMEOUT`]; and a first JSON-RPC
//! request (`system_chain`) must be answered with JSON-RPC within [`PROBE_TIMEOUT`]. An
//! endpoint that answers with something else (an HTML page, garbage bytes, non-JSON frames)
//! is refused as "not a Substrate JSON-RPC endpoint", naming what it answered.

use jsonrpsee::{
	core::{client::ClientT, params::ArrayParams, ClientError},
	ws_client::{WsClient, WsClientBuilder},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::{
	sync::{
		atomic::{AtomicUsize, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};
use tokio::sync::Mutex;

use crate::error::SnapshotError;
use stagenet_chain::retry::Backoff;

/// Why a call failed.
#[derive(Debug, Clone)]
pub enum CallError {
	/// The node answered with an error.
	Node {
		/// JSON-RPC error code.
		code: i32,
		/// Its message (and data, if any).
		message: String,
	},
	/// The connection dropped (or timed out) and did not come back within the retry window.
	Lost {
		/// The last error seen.
		reason: String,
		/// How long we tried.
		tried_for: Duration,
	},
	/// The answer does not have the expected shape.
	Decode {
		/// What was wrong.
		reason: String,
	},
}

impl CallError {
	/// Why a first connection failed, without the retry wording.
	pub fn connect_reason(&self) -> String {
		match self {
			Self::Lost { reason, .. } => reason.clone(),
			other => other.to_string(),
		}
	}

	/// The node refused because the response would be too large.
	pub fn is_oversized(&self) -> bool {
		match self {
			Self::Node { code, message } => stagenet_chain::retry::is_oversized(*code, message),
			_ => false,
		}
	}

	/// The node no longer holds the state of the requested block.
	pub fn is_state_pruned(&self) -> bool {
		matches!(self, Self::Node { message, .. }
			if message.contains("State already discarded") || message.contains("state already discarded"))
	}

	/// The node does not know the requested block.
	pub fn is_unknown_block(&self) -> bool {
		matches!(self, Self::Node { message, .. }
			if message.contains("Unknown block") || message.contains("UnknownBlock") || message.contains("not found"))
	}
}

impl std::fmt::Display for CallError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Self::Node { code, message } => write!(f, "the node answered error {code}: {message}"),
			Self::Lost { reason, tried_for } => write!(
				f,
				"the connection was lost and did not come back within {}: {reason}",
				humanize(*tried_for)
			),
			Self::Decode { reason } => write!(f, "unexpected answer: {reason}"),
		}
	}
}

fn humanize(d: Duration) -> String {
	format!("{:.1} s", d.as_secs_f64())
}

/// How long the WebSocket handshake (TCP connect and HTTP upgrade) of a first connection may
/// take: a node answers it at once.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the first JSON-RPC request (`system_chain`) may wait for its answer (or the
/// request timeout, when shorter): a node answers it at once.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a node URL is refused before connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlProblem {
	/// What is wrong with it.
	pub reason: String,
	/// What to do.
	pub hint: String,
}

/// Checks that `url` is a WebSocket URL (`ws://` or `wss://`) with a host and, if given, a
/// numeric port.
pub fn check_ws_url(url: &str) -> Result<(), UrlProblem> {
	let example = "e.g. `--url ws://127.0.0.1:9944`";
	let problem = |reason: String, hint: String| Err(UrlProblem { reason, hint });
	let Some((scheme, rest)) = url.split_once("://") else {
		return problem(
			"it is not a URL (no `scheme://`)".into(),
			format!("use ws:// or wss:// with the node's RPC host and port, {example}"),
		);
	};
	match scheme.to_ascii_lowercase().as_str() {
		"ws" | "wss" => {}
		"http" | "https" => {
			return problem(
				format!(
					"`{scheme}://` is an HTTP URL; stagenet talks to nodes over WebSocket \
					 JSON-RPC"
				),
				format!(
					"use ws:// or wss:// (a Substrate node serves both on its RPC port: \
					 `ws{}://{}`)",
					if scheme.eq_ignore_ascii_case("https") {
						"s"
					} else {
						""
					},
					rest
				),
			)
		}
		_ => {
			return problem(
				format!("scheme `{scheme}` is not `ws` or `wss`"),
				format!("use ws:// or wss://, {example}"),
			)
		}
	}
	let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
	let host = authority.rsplit('@').next().unwrap_or_default();
	if host.is_empty() || host.starts_with(':') {
		return problem(
			"it has no host".into(),
			format!("name the node's host, {example}"),
		);
	}
	if let Some((_, port)) = host.rsplit_once(':') {
		if !host.ends_with(']') && port.parse::<u16>().is_err() {
			return problem(
				format!("port `{port}` is not a number from 0 to 65535"),
				format!("give the node's RPC port, {example}"),
			);
		}
	}
	Ok(())
}

/// Why a first connection to an endpoint failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
	/// The endpoint answered, but not as a Substrate JSON-RPC endpoint does.
	NotJsonRpc {
		/// What it answered.
		seen: String,
	},
	/// The endpoint accepted the connection but did not answer in time.
	Silent {
		/// What was awaited.
		awaited: String,
		/// How long.
		waited: Duration,
	},
	/// The endpoint could not be reached (refused, reset, name not resolved, a proxy's 5xx).
	Unreachable {
		/// What was seen.
		reason: String,
	},
}

impl std::fmt::Display for OpenError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Self::NotJsonRpc { seen } => {
				write!(f, "this is not a Substrate JSON-RPC endpoint: {seen}")
			}
			Self::Silent { awaited, waited } => write!(
				f,
				"it accepted the connection but sent no answer to {awaited} within {}",
				humanize(*waited)
			),
			Self::Unreachable { reason } => f.write_str(reason),
		}
	}
}

impl OpenError {
	/// The hint that goes with the error.
	pub fn hint(&self) -> &'static str {
		match self {
			Self::NotJsonRpc { .. } => {
				"check `--url`: it must name a Substrate node's RPC port (`ws://host:9944`), \
				 not a web page, a proxy's front page or another service"
			}
			Self::Silent { .. } => {
				"a node answers at once: check that `--url` names a Substrate node's RPC port \
				 and that the node is not stuck"
			}
			Self::Unreachable { .. } => {
				"check the URL (`ws://host:port`) and that the node runs with its RPC server \
				 reachable from here"
			}
		}
	}

	/// Whether the endpoint is not a JSON-RPC endpoint at all (bad input).
	pub fn is_not_json_rpc(&self) -> bool {
		matches!(self, Self::NotJsonRpc { .. })
	}
}

/// Classifies a failed WebSocket handshake. jsonrpsee reports it as a boxed transport error
/// whose text is that of its `WsHandshakeError` (0.26): `Connection rejected with status code:
/// N`, `Connection timeout exceeded: …`, `Error when opening the TCP socket: …`, or the
/// handshake parser's error (`http version was not 1.1`, `header … not found`, …) when the
/// answer is not an HTTP upgrade.
fn classify_handshake(e: &ClientError, waited: Duration) -> OpenError {
	let text = match e {
		ClientError::Transport(inner) => inner.to_string(),
		other => other.to_string(),
	};
	let lower = text.to_ascii_lowercase();
	if let Some(code) = lower
		.strip_prefix("connection rejected with status code: ")
		.and_then(|c| c.trim().parse::<u16>().ok())
	{
		if code >= 500 {
			return OpenError::Unreachable {
				reason: format!(
					"the WebSocket handshake was answered with HTTP status {code} (a server error: \
					 a proxy in front of a node that is down?)"
				),
			};
		}
		return OpenError::NotJsonRpc {
			seen: format!(
				"it answered the WebSocket handshake with HTTP status {code} instead of 101 \
				 Switching Protocols (a web server, or an HTTP-only endpoint)"
			),
		};
	}
	if lower.starts_with("connection redirected") {
		return OpenError::NotJsonRpc {
			seen: format!("it answered the WebSocket handshake with a redirection: {text}"),
		};
	}
	if lower.starts_with("connection timeout exceeded") {
		return OpenError::Silent {
			awaited: "the WebSocket handshake (its HTTP upgrade)".into(),
			waited,
		};
	}
	let transport = lower.starts_with("error when opening the tcp socket")
		|| lower.starts_with("i/o error")
		|| lower.starts_with("failed to resolve")
		|| lower.starts_with("no ip address")
		|| lower.starts_with("failed to load system certs")
		|| lower.starts_with("invalid url");
	if transport {
		return OpenError::Unreachable { reason: text };
	}
	OpenError::NotJsonRpc {
		seen: format!("its answer to the WebSocket handshake is not an HTTP upgrade ({text})"),
	}
}

/// Classifies the outcome of the first request, `system_chain`.
fn classify_probe(
	res: Result<Result<Value, ClientError>, tokio::time::error::Elapsed>,
	waited: Duration,
) -> Result<(), OpenError> {
	let awaited = "its first JSON-RPC request (`system_chain`)";
	match res {
		Ok(Ok(_)) => Ok(()),
		Err(_) | Ok(Err(ClientError::RequestTimeout)) => Err(OpenError::Silent {
			awaited: awaited.into(),
			waited,
		}),
		// A JSON-RPC error is a JSON-RPC answer; only "method not found" says that this is
		// not a Substrate node.
		Ok(Err(ClientError::Call(e))) if e.code() == -32601 => Err(OpenError::NotJsonRpc {
			seen: format!(
				"it answers JSON-RPC but does not know `system_chain` ({}), which every \
				 Substrate node serves",
				e.message()
			),
		}),
		Ok(Err(ClientError::Call(_))) => Ok(()),
		Ok(Err(ClientError::ParseError(e))) => Err(OpenError::NotJsonRpc {
			seen: format!("its answer to {awaited} does not parse: {e}"),
		}),
		Ok(Err(ClientError::RestartNeeded(inner))) => match &*inner {
			// jsonrpsee closes the connection on a message it cannot parse as JSON-RPC.
			ClientError::Custom(m) if m.starts_with("Unparseable message") => {
				Err(OpenError::NotJsonRpc {
					seen: format!(
						"it answered {awaited} with a message that is not JSON-RPC ({})",
						m.trim_start_matches("Unparseable message: ")
					),
				})
			}
			other => Err(OpenError::Unreachable {
				reason: format!("the connection closed before it answered {awaited}: {other}"),
			}),
		},
		Ok(Err(e)) => Err(OpenError::Unreachable {
			reason: format!("{awaited} failed: {e}"),
		}),
	}
}

/// Opens a first WebSocket connection with `builder` and checks that the endpoint answers
/// JSON-RPC (see the module documentation). `request_timeout` bounds the probe when it is
/// shorter than [`PROBE_TIMEOUT`].
pub async fn open_checked(
	builder: WsClientBuilder,
	url: &str,
	request_timeout: Duration,
) -> Result<WsClient, OpenError> {
	let started = Instant::now();
	let built = tokio::time::timeout(
		HANDSHAKE_TIMEOUT,
		builder.connection_timeout(HANDSHAKE_TIMEOUT).build(url),
	)
	.await;
	let client = match built {
		Ok(Ok(c)) => c,
		Ok(Err(e)) => return Err(classify_handshake(&e, started.elapsed())),
		Err(_) => {
			return Err(OpenError::Silent {
				awaited: "the WebSocket handshake (its HTTP upgrade)".into(),
				waited: started.elapsed(),
			})
		}
	};
	let limit = request_timeout.min(PROBE_TIMEOUT);
	let started = Instant::now();
	let res = tokio::time::timeout(
		limit,
		client.request::<Value, _>("system_chain", ArrayParams::new()),
	)
	.await;
	classify_probe(res, started.elapsed())?;
	Ok(client)
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct NodeOptions {
	/// Connections kept open.
	pub connections: usize,
	/// How long a dropped connection is retried before giving up.
	pub retry_for: Duration,
	/// Per-request timeout.
	pub request_timeout: Duration,
}

/// A pool of connections to one node.
pub struct Node {
	url: String,
	shown: String,
	opts: NodeOptions,
	slots: Vec<Mutex<Option<Arc<WsClient>>>>,
	next: AtomicUsize,
}

impl Node {
	/// Connects the first connection, checked (see the module documentation), so that a
	/// wrong URL or an endpoint that is not a node fails at once; the others connect on first
	/// use.
	pub async fn connect(url: &str, opts: NodeOptions) -> crate::error::Result<Self> {
		let shown = stagenet_chain::url::redact(url);
		check_ws_url(url).map_err(|p| SnapshotError::InvalidInput {
			reason: format!(
				"`--url {shown}` is not a node's WebSocket URL: {}",
				p.reason
			),
			hint: p.hint,
		})?;
		let n = opts.connections.max(1);
		let node = Self {
			url: url.to_string(),
			shown,
			opts,
			slots: (0..n).map(|_| Mutex::new(None)).collect(),
			next: AtomicUsize::new(0),
		};
		let client = open_checked(node.builder(), &node.url, node.opts.request_timeout)
			.await
			.map_err(|e| {
				let hint = e.hint().to_string();
				if e.is_not_json_rpc() {
					SnapshotError::NotJsonRpc {
						url: node.shown.clone(),
						seen: e.to_string(),
						hint,
					}
				} else {
					SnapshotError::Unreachable {
						url: node.shown.clone(),
						reason: e.to_string(),
						hint,
					}
				}
			})?;
		*node.slots[0].lock().await = Some(Arc::new(client));
		Ok(node)
	}

	/// The URL without credentials.
	pub fn shown_url(&self) -> &str {
		&self.shown
	}

	fn builder(&self) -> WsClientBuilder {
		WsClientBuilder::default()
			.max_response_size(u32::MAX)
			.max_request_size(64 << 20)
			.request_timeout(self.opts.request_timeout)
			.connection_timeout(HANDSHAKE_TIMEOUT)
			.max_concurrent_requests(1024)
	}

	async fn build(&self) -> Result<WsClient, String> {
		self.builder()
			.build(&self.url)
			.await
			.map_err(|e| e.to_string())
	}

	async fn client(&self, slot: usize) -> Result<Arc<WsClient>, String> {
		let mut guard = self.slots[slot].lock().await;
		if let Some(c) = guard.as_ref() {
			if c.is_connected() {
				return Ok(c.clone());
			}
		}
		let c = Arc::new(self.build().await?);
		*guard = Some(c.clone());
		Ok(c)
	}

	async fn drop_client(&self, slot: usize) {
		*self.slots[slot].lock().await = None;
	}

	/// Calls `method` with positional `params`, retrying on lost connections and timeouts
	/// with backoff ([`Backoff::FAST`]: 100 ms doubling to 2 s) until `retry_for` has passed since the first
	/// failure.
	pub async fn call<T: DeserializeOwned>(
		&self,
		method: &str,
		params: &[Value],
	) -> Result<T, CallError> {
		let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
		let mut first_failure: Option<Instant> = None;
		let mut backoff = Backoff::FAST.schedule();
		loop {
			let attempt = match self.client(slot).await {
				Ok(c) => {
					let mut p = ArrayParams::new();
					for v in params {
						p.insert(v).map_err(|e| CallError::Decode {
							reason: format!("cannot encode a parameter: {e}"),
						})?;
					}
					c.request::<T, _>(method, p).await
				}
				Err(e) => Err(ClientError::Custom(e)),
			};
			let reason = match attempt {
				Ok(v) => return Ok(v),
				Err(ClientError::Call(e)) => {
					let mut message = e.message().to_string();
					if let Some(data) = e.data() {
						message.push_str(": ");
						message.push_str(data.get());
					}
					return Err(CallError::Node {
						code: e.code(),
						message,
					});
				}
				Err(ClientError::ParseError(e)) => {
					return Err(CallError::Decode {
						reason: e.to_string(),
					})
				}
				Err(ClientError::RequestTimeout) => {
					format!("no answer within {}", humanize(self.opts.request_timeout))
				}
				Err(e) => {
					self.drop_client(slot).await;
					e.to_string()
				}
			};
			let started = *first_failure.get_or_insert_with(Instant::now);
			if started.elapsed() >= self.opts.retry_for {
				return Err(CallError::Lost {
					reason,
					tried_for: started.elapsed(),
				});
			}
			tracing::debug!(target: "stagenet::snapshot", %method, %reason, "retrying");
			tokio::time::sleep(backoff.next().unwrap_or(Backoff::FAST.max)).await;
		}
	}
}

