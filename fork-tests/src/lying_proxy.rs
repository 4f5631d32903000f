//! A TCP proxy in front of a node's RPC port that lies once: in the first
//! `state_queryStorageAt` answer it forwards, it changes one hex digit of the first value.
//! WebSocket frames from server to client are not masked, so the change keeps the frame
//! valid; the client sees a well-formed answer with a wrong value (a faulty or malicious RPC).

use std::sync::{
	atomic::{AtomicBool, Ordering},
	Arc,
};
use tokio::{
	io::{AsyncReadExt, AsyncWriteExt},
	net::{TcpListener, TcpStream},
	task::JoinHandle,
};

/// The proxy; stops when dropped.
pub struct LyingProxy {
	/// Port the proxy listens on (127.0.0.1).
	pub port: u16,
	lied: Arc<AtomicBool>,
	task: JoinHandle<()>,
}

impl LyingProxy {
	/// Starts a proxy to `127.0.0.1:upstream`.
	pub async fn start(upstream: u16) -> LyingProxy {
		let listener = TcpListener::bind("127.0.0.1:0")
			.await
			.unwrap_or_else(|e| panic!("bind: {e}"));
		let port = listener
			.local_addr()
			.unwrap_or_else(|e| panic!("addr: {e}"))
			.port();
		let lied = Arc::new(AtomicBool::new(false));
		let flag = lied.clone();
		let task = tokio::spawn(async move {
			while let Ok((client, _)) = listener.accept().await {
				let flag = flag.clone();
				tokio::spawn(async move {
					if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await {
						relay(client, server, flag).await;
					}
				});
			}
		});
		LyingProxy { port, lied, task }
	}

	/// Whether the lie was told.
	pub fn lied(&self) -> bool {
		self.lied.load(Ordering::SeqCst)
	}
}

impl Drop for LyingProxy {
	fn drop(&mut self) {
		self.task.abort();
	}
}

async fn relay(client: TcpStream, server: TcpStream, lied: Arc<AtomicBool>) {
	let (mut cr, mut cw) = client.into_split();
	let (mut sr, mut sw) = server.into_split();
	let up = tokio::spawn(async move {
		let _ = tokio::io::copy(&mut cr, &mut sw).await;
	});
	let mut scan = Scanner::default();
	let mut buf = vec![0u8; 64 * 1024];
	loop {
		let n = match sr.read(&mut buf).await {
			Ok(0) | Err(_) => break,
			Ok(n) => n,
		};
		if !lied.load(Ordering::SeqCst) && scan.alter(&mut buf[..n]) {
			lied.store(true, Ordering::SeqCst);
		}
		if cw.write_all(&buf[..n]).await.is_err() {
			break;
		}
	}
	up.abort();
}

/// Finds `"changes":[["0x<key>","0x` across reads and flips the next hex digit.
#[derive(Default)]
struct Scanner {
	matched: usize,
	in_key: bool,
	tail: usize,
}

const HEAD: &[u8] = b"\"changes\":[[\"0x";
const SEP: &[u8] = b"\",\"0x";

impl Scanner {
	fn alter(&mut self, bytes: &mut [u8]) -> bool {
		for b in bytes.iter_mut() {
			if !self.in_key {
				self.matched = if *b == HEAD[self.matched] {
					self.matched + 1
				} else {
					usize::from(*b == HEAD[0])
				};
				if self.matched == HEAD.len() {
					self.in_key = true;
					self.tail = 0;
				}
			} else if self.tail == SEP.len() {
				if b.is_ascii_hexdigit() {
					*b = if *b == b'0' { b'1' } else { b'0' };
					return true;
				}
				self.in_key = false;
				self.matched = 0;
			} else {
				self.tail = if *b == SEP[self.tail] {
					self.tail + 1
				} else {
					usize::from(*b == SEP[0])
				};
			}
		}
		false
	}
}
