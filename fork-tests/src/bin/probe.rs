//! A network probe for sealing tests: run in a container of a sealed namespace, it shows what
//! the container can reach. Only `std`, so that tests can compile it with `rustc` alone.
//!
//! ```text
//! probe HOST:PORT        connect (3 s timeout): prints `connected` (exit 0) or
//!                        `failed: <error>` (exit 1)
//! probe --listen PORT    accept on 0.0.0.0:PORT forever: prints `listening on PORT`, then
//!                        `accepted <peer>` for each connection, to which it writes
//!                        `hello from probe` and closes it
//! ```

use std::{
	io::Write,
	net::{TcpListener, TcpStream, ToSocketAddrs},
	process::ExitCode,
	time::Duration,
};

const TIMEOUT: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
	let args: Vec<String> = std::env::args().skip(1).collect();
	match args.as_slice() {
		[flag, port] if flag == "--listen" => listen(port),
		[target] => connect(target),
		_ => {
			eprintln!("usage: probe HOST:PORT | probe --listen PORT");
			ExitCode::from(2)
		}
	}
}

fn connect(target: &str) -> ExitCode {
	match try_connect(target) {
		Ok(()) => {
			println!("connected to {target}");
			ExitCode::SUCCESS
		}
		Err(e) => {
			println!("failed: {target}: {e}");
			ExitCode::from(1)
		}
	}
}

fn try_connect(target: &str) -> std::io::Result<()> {
	let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
	for addr in target.to_socket_addrs()? {
		match TcpStream::connect_timeout(&addr, TIMEOUT) {
			Ok(_) => return Ok(()),
			Err(e) => last = e,
		}
	}
	Err(last)
}

fn listen(port: &str) -> ExitCode {
	let listener = match TcpListener::bind(format!("0.0.0.0:{port}")) {
		Ok(l) => l,
		Err(e) => {
			println!("failed: listen on {port}: {e}");
			return ExitCode::from(1);
		}
	};
	println!("listening on {port}");
	for conn in listener.incoming() {
		match conn {
			Ok(mut stream) => {
				let peer = stream
					.peer_addr()
					.map(|p| p.to_string())
					.unwrap_or_else(|_| "?".into());
				println!("accepted {peer}");
				let _ = stream.write_all(b"hello from probe\n");
			}
			Err(e) => println!("failed: accept: {e}"),
		}
	}
	ExitCode::SUCCESS
}
