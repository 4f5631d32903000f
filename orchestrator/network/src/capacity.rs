//! What can be checked before a network starts, so that a network that cannot work is
//! refused at once instead of timing out minutes later: validators against the authorities
//! of the chain spec, and the number of nodes against this machine's cores.

use crate::{plan::NetworkPlan, provider::Capabilities, NetworkError, Result};
use stagenet_config::{Chain, Role};
use std::{
	io::{BufRead as _, BufReader, Read as _},
	path::Path,
};

/// Most node processes per CPU core a provider that runs on this machine is given: beyond
/// it, Aura slots are missed and readiness times out.
pub const MAX_NODES_PER_CORE: usize = 8;

/// The storage key of `Aura::Authorities` (twox128("Aura") ++ twox128("Authorities")), as
/// it appears in a raw chain spec.
const AURA_AUTHORITIES_KEY: &str =
	"\"0x57f8dc2f5ab09467896f47300f0424385e0621c4869aa60c02be9adcc98a0d1d\"";

/// Checks `plan` before anything is created.
pub fn check(plan: &NetworkPlan, caps: &Capabilities) -> Result<()> {
	let nodes = plan.nodes.len();
	if caps.same_machine {
		let cores = std::thread::available_parallelism()
			.map(|n| n.get())
			.unwrap_or(1);
		if nodes > cores * MAX_NODES_PER_CORE {
			return Err(NetworkError::InvalidConfig {
				reason: format!(
					"{nodes} nodes were asked for on this machine, which has {cores} CPU core(s); \
					 more than {MAX_NODES_PER_CORE} nodes per core cannot keep up with block \
					 production"
				),
				hint: format!(
					"ask for at most {} nodes here, or run the network on a larger machine",
					cores * MAX_NODES_PER_CORE
				),
			});
		}
	}
	if let Chain::Spec(spec) = &plan.chain {
		let validators = plan
			.nodes
			.iter()
			.filter(|n| n.role == Role::Validator)
			.count();
		if let Some(authorities) = spec_authorities(spec)? {
			if validators > authorities {
				return Err(NetworkError::InvalidConfig {
					reason: format!(
						"{validators} validators were asked for, but the chain spec `{}` names \
						 {authorities} Aura authorities: validators beyond them would never author \
						 a block",
						spec.display()
					),
					hint: format!(
						"ask for {authorities} validator(s), or fork the snapshot again with \
						 `stagenet fork --validators {validators}`"
					),
				});
			}
		}
	}
	Ok(())
}

/// The number of Aura authorities in a raw chain spec, read by streaming through the file
/// (a fork's spec can be gigabytes); `None` when the spec is not raw or has no such key.
pub fn spec_authorities(spec: &Path) -> Result<Option<usize>> {
	let io = |source| NetworkError::Io {
		path: spec.to_path_buf(),
		source,
	};
	let meta = std::fs::metadata(spec).map_err(io)?;
	if !meta.is_file() {
		return Err(NetworkError::InvalidConfig {
			reason: format!("the chain spec `{}` is not a regular file", spec.display()),
			hint: "give the path of a chain spec JSON file".into(),
		});
	}
	let file = std::fs::File::open(spec).map_err(io)?;
	let mut reader = BufReader::with_capacity(1 << 20, file);
	let key = AURA_AUTHORITIES_KEY.as_bytes();
	// Scan line by line, but never hold more than a bounded window: a raw spec written on
	// one line can be huge.
	let mut window: Vec<u8> = Vec::new();
	loop {
		let buf = reader.fill_buf().map_err(io)?;
		if buf.is_empty() {
			return Ok(None);
		}
		let n = buf.len();
		window.extend_from_slice(buf);
		reader.consume(n);
		if let Some(pos) = find(&window, key) {
			// The value follows: `: "0x…"`. Read enough of it (bounded).
			let mut rest = window[pos + key.len()..].to_vec();
			let mut more = Vec::new();
			(&mut reader)
				.take(1 << 20)
				.read_to_end(&mut more)
				.map_err(io)?;
			rest.extend_from_slice(&more);
			return Ok(decode_count(&rest));
		}
		// Keep the tail that could hold the start of the key.
		if window.len() > key.len() {
			let keep = window.len() - key.len();
			window.drain(..keep);
		}
	}
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
	hay.windows(needle.len()).position(|w| w == needle)
}

/// The length prefix of the SCALE list in `: "0x…"`.
fn decode_count(rest: &[u8]) -> Option<usize> {
	let text = std::str::from_utf8(&rest[..rest.len().min(64)]).ok()?;
	let start = text.find("\"0x")? + 3;
	let hex = &text[start..];
	let byte = |i: usize| u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok();
	let b0 = byte(0)?;
	match b0 & 0b11 {
		0 => Some(usize::from(b0 >> 2)),
		1 => Some((usize::from(b0) | usize::from(byte(1)?) << 8) >> 2),
		2 => {
			let v = u32::from_le_bytes([b0, byte(1)?, byte(2)?, byte(3)?]) >> 2;
			usize::try_from(v).ok()
		}
		_ => None,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_authority_count_is_read_from_a_raw_spec() {
		let dir = tempfile::tempdir().expect("tempdir");
		let spec = dir.path().join("spec.json");
		let three = format!("{{\"genesis\":{{\"raw\":{{\"top\":{{\"0x00\":\"0x01\",{AURA_AUTHORITIES_KEY}: \"0x0c{}\"}}}}}}}}", "aa".repeat(96));
		std::fs::write(&spec, three).expect("write");
		assert_eq!(spec_authorities(&spec).expect("read"), Some(3));
		std::fs::write(&spec, "{\"genesis\":{\"runtime\":{}}}").expect("write");
		assert_eq!(spec_authorities(&spec).expect("read"), None);
		assert_eq!(decode_count(b": \"0x9101\""), Some(100));
	}
}
