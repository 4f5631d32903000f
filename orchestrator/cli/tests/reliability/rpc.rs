//! An RPC endpoint that is not a node fails in seconds, saying what it saw: the commands that
//! connect to a user's `--url` (`snapshot`, `capture`, `snapshot from-spec --metadata-url`)
//! against stand-in servers on loopback that are the real bad input: a web server answering
//! HTML, a server answering garbage bytes, a WebSocket server whose frames are not JSON-RPC,
//! and servers that accept the connection and never answer. Before, these took 79 s and
//! 121 s (retry loops). URLs that are not WebSocket URLs are refused before connecting.
//!
//! Exit codes: an endpoint that answers but is not JSON-RPC is bad input (2: the URL is
//! wrong); one that accepts and stays silent is infrastructure (3: it may be a node that is
//! stuck), told within the handshake or first-request timeout (10 s each).

use super::{run, tempdir, Seen};
use std::{
	io::{Read as _, Write as _},
	net::{TcpListener, TcpStream},
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc,
	},
	thread::JoinHandle,
	time::{Duration, Instant},
};

/// How a stand-in endpoint behaves once it has accepted a connection.
#[derive(Clone, Copy)]
enum Behaviour {
	/// Reads the request and answers an HTML page with HTTP 200.
	Html,
	/// Writes bytes that are not HTTP.
	Garbage,
	/// Completes the WebSocket handshake, then answers every frame with non-JSON text.
	WsGarbage,
	/// Completes the WebSocket handshake, then never answers.
	WsSilent,
	/// Never writes a byte.
	Silent,
}

/// A server on `127.0.0.1:0` in a thread; stopped (and its connections closed) on drop.
struct StandIn {
	port: u16,
	stop: Arc<AtomicBool>,
	thread: Option<JoinHandle<()>>,
}

impl StandIn {
	fn start(behaviour: Behaviour) -> Self {
		let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
		let port = listener.local_addr().expect("addr").port();
		let stop = Arc::new(AtomicBool::new(false));
		let stopped = stop.clone();
		let thread = std::thread::spawn(move || {
			let mut held = Vec::new();
			for stream in listener.incoming() {
				if stopped.load(Ordering::SeqCst) {
					break;
				}
				let Ok(stream) = stream else { continue };
				let stopped = stopped.clone();
				held.push(std::thread::spawn(move || {
					serve(stream, behaviour, &stopped)
				}));
			}
			for h in held {
				let _ = h.join();
			}
		});
		Self {
			port,
			stop,
			thread: Some(thread),
		}
	}

	fn url(&self) -> String {
		format!("ws://127.0.0.1:{}", self.port)
	}
}

impl Drop for StandIn {
	fn drop(&mut self) {
		self.stop.store(true, Ordering::SeqCst);
		// Wake the accept loop.
		let _ = TcpStream::connect(("127.0.0.1", self.port));
		if let Some(t) = self.thread.take() {
			let _ = t.join();
		}
	}
}

/// Reads until the end of the HTTP request head (or a timeout); returns it.
fn read_head(stream: &mut TcpStream) -> String {
	let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
	let mut head = Vec::new();
	let mut byte = [0u8; 1];
	while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
		match stream.read(&mut byte) {
			Ok(1) => head.push(byte[0]),
			_ => break,
		}
	}
	String::from_utf8_lossy(&head).into_owned()
}

/// Holds the connection open, without a word, until the server stops.
fn hold(stream: &TcpStream, stopped: &AtomicBool) {
	let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
	let mut buf = [0u8; 4096];
	let mut s = stream;
	while !stopped.load(Ordering::SeqCst) {
		match s.read(&mut buf) {
			Ok(0) => return,
			Ok(_) => {}
			Err(e)
				if e.kind() == std::io::ErrorKind::WouldBlock
					|| e.kind() == std::io::ErrorKind::TimedOut => {}
			Err(_) => return,
		}
	}
}

fn serve(mut stream: TcpStream, behaviour: Behaviour, stopped: &AtomicBool) {
	match behaviour {
		Behaviour::Silent => hold(&stream, stopped),
		Behaviour::Garbage => {
			let _ =
				stream.write_all(b"\x00\xff\x13garbage \xde\xad\xbe\xef not http at all\r\n\r\n");
			hold(&stream, stopped);
		}
		Behaviour::Html => {
			let _ = read_head(&mut stream);
			let body = "<!doctype html><html><body>It works!</body></html>";
			let _ = write!(
				stream,
				"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
				body.len()
			);
			hold(&stream, stopped);
		}
		Behaviour::WsGarbage | Behaviour::WsSilent => {
			let head = read_head(&mut stream);
			let key = head
				.lines()
				.find_map(|l| {
					let (name, value) = l.split_once(':')?;
					name.trim()
						.eq_ignore_ascii_case("sec-websocket-key")
						.then(|| value.trim().to_string())
				})
				.unwrap_or_default();
			let accept = base64(&sha1(
				format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
			));
			let _ = write!(
				stream,
				"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
				 Sec-WebSocket-Accept: {accept}\r\n\r\n"
			);
			if matches!(behaviour, Behaviour::WsSilent) {
				hold(&stream, stopped);
				return;
			}
			// Answer the first frame the client sends with a text frame that is not JSON.
			let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
			let mut first = [0u8; 1];
			if stream.read(&mut first).is_ok() {
				let text = b"<html>hello</html>";
				let mut frame = vec![0x81, text.len() as u8];
				frame.extend_from_slice(text);
				let _ = stream.write_all(&frame);
			}
			hold(&stream, stopped);
		}
	}
}

/// SHA-1 (FIPS 180-4), only to answer a WebSocket handshake.
fn sha1(data: &[u8]) -> [u8; 20] {
	let mut h: [u32; 5] = [
		0x6745_2301,
		0xEFCD_AB89,
		0x98BA_DCFE,
		0x1032_5476,
		0xC3D2_E1F0,
	];
	let mut msg = data.to_vec();
	msg.push(0x80);
	while msg.len() % 64 != 56 {
		msg.push(0);
	}
	msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
	for block in msg.chunks(64) {
		let mut w = [0u32; 80];
		for (i, word) in block.chunks(4).enumerate() {
			w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
		}
		for i in 16..80 {
			w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
		}
		let [mut a, mut b, mut c, mut d, mut e] = h;
		for (i, wi) in w.iter().enumerate() {
			let (f, k) = match i {
				0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
				20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
				40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
				_ => (b ^ c ^ d, 0xCA62_C1D6),
			};
			let t = a
				.rotate_left(5)
				.wrapping_add(f)
				.wrapping_add(e)
				.wrapping_add(k)
				.wrapping_add(*wi);
			e = d;
			d = c;
			c = b.rotate_left(30);
			b = a;
			a = t;
		}
		for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
			*x = x.wrapping_add(y);
		}
	}
	let mut out = [0u8; 20];
	for (i, x) in h.iter().enumerate() {
		out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
	}
	out
}

fn base64(data: &[u8]) -> String {
	const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	let mut out = String::new();
	for c in data.chunks(3) {
		let n = (c[0] as u32) << 16
			| (*c.get(1).unwrap_or(&0) as u32) << 8
			| *c.get(2).unwrap_or(&0) as u32;
		for i in 0..4 {
			if i <= c.len() {
				out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
			} else {
				out.push('=');
			}
		}
	}
	out
}

#[test]
fn the_websocket_accept_key_is_computed_as_rfc_6455_says() {
	// The example of RFC 6455, section 1.3.
	assert_eq!(
		base64(&sha1(
			b"dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
		)),
		"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	);
}

/// Each command that connects to a user's `--url`, pointed at `url`, writing below `dir`.
fn commands(url: &str, dir: &std::path::Path) -> Vec<(&'static str, Vec<String>)> {
	let out = |name: &str| dir.join(name).display().to_string();
	let spec = stagenet_test_support::subtensor_dir().join("raonet-genesis-spec204.json");
	vec![
		(
			"snapshot",
			vec![
				"snapshot".into(),
				"--url".into(),
				url.into(),
				"--out".into(),
				out("s.snap"),
			],
		),
		(
			"capture",
			vec![
				"capture".into(),
				"--url".into(),
				url.into(),
				"--from".into(),
				"1".into(),
				"--to".into(),
				"2".into(),
				"--out".into(),
				out("c.db"),
			],
		),
		(
			"from-spec --metadata-url",
			vec![
				"snapshot".into(),
				"from-spec".into(),
				spec.display().to_string(),
				"--out".into(),
				out("f.snap"),
				"--metadata-url".into(),
				url.into(),
			],
		),
	]
}

/// Runs every command against `url`; returns what each saw and how long it took.
fn run_all(url: &str) -> Vec<(&'static str, Seen, Duration)> {
	let dir = tempdir();
	commands(url, dir.path())
		.into_iter()
		.map(|(name, args)| {
			let started = Instant::now();
			let seen = run(&args);
			(name, seen, started.elapsed())
		})
		.collect()
}

/// The hang guard: far below the 79 s and 121 s of before, above the 10 s timeouts.
const GUARD: Duration = Duration::from_secs(30);

fn expect_not_json_rpc(behaviour: Behaviour, seen_needle: &str) {
	let server = StandIn::start(behaviour);
	for (name, seen, took) in run_all(&server.url()) {
		seen.expect(
			2,
			&[
				"this is not a Substrate JSON-RPC endpoint",
				seen_needle,
				"hint:",
			],
		);
		assert!(took < GUARD, "`{name}` took {took:?}; {seen:#?}");
	}
}

#[test]
fn a_web_server_answering_html_is_not_a_json_rpc_endpoint() {
	expect_not_json_rpc(Behaviour::Html, "HTTP status 200");
}

#[test]
fn a_server_answering_garbage_bytes_is_not_a_json_rpc_endpoint() {
	expect_not_json_rpc(Behaviour::Garbage, "not an HTTP upgrade");
}

#[test]
fn a_websocket_server_answering_non_json_is_not_a_json_rpc_endpoint() {
	expect_not_json_rpc(Behaviour::WsGarbage, "not JSON-RPC");
}

fn expect_silent(behaviour: Behaviour, awaited: &str) {
	let server = StandIn::start(behaviour);
	for (name, seen, took) in run_all(&server.url()) {
		seen.expect(3, &["sent no answer to", awaited, "within 10", "hint:"]);
		assert!(took < GUARD, "`{name}` took {took:?}; {seen:#?}");
	}
}

#[test]
fn a_server_that_accepts_and_never_answers_fails_naming_the_handshake() {
	expect_silent(Behaviour::Silent, "the WebSocket handshake");
}

#[test]
fn a_websocket_server_that_never_answers_fails_naming_the_first_request() {
	expect_silent(Behaviour::WsSilent, "`system_chain`");
}

#[test]
fn urls_that_are_not_websocket_urls_are_bad_input() {
	stagenet_test_support::require!(Subtensor);
	let dir = tempdir();
	for (url, needles) in [
		("notaurl", &["not a URL", "use ws:// or wss://"][..]),
		(
			"http://127.0.0.1:9944",
			&["use ws:// or wss://", "ws://127.0.0.1:9944"][..],
		),
		(
			"https://rpc.example.com",
			&["use ws:// or wss://", "wss://rpc.example.com"][..],
		),
		("ws://127.0.0.1:port", &["port `port`"][..]),
	] {
		for (name, args) in commands(url, dir.path()) {
			let started = Instant::now();
			let seen = run(&args);
			seen.expect(2, needles);
			assert!(
				seen.stderr.contains("is not a node's WebSocket URL"),
				"`{name}` {url}: {seen:#?}"
			);
			assert!(started.elapsed() < GUARD, "`{name}` {url}");
		}
		// Refused before anything was written.
		assert!(super::files_below(dir.path()).is_empty(), "{url}");
	}
}
