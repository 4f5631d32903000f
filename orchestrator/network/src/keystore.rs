//! Authority keys of validators, written as a Substrate keystore directory.
//!
//! A node started with `--keystore-path <dir>` reads one file per key: the name is the hex
//! of the 4-byte key type followed by the hex of the public key, the content the secret URI
//! as a JSON string (what `node key insert` writes). Writing them directly avoids starting
//! the node binary once per key (each start would parse the whole chain spec).

use crate::{NetworkError, Result};
use stagenet_chain::keys::{ed25519_public, sr25519_public};
use std::path::Path;

/// Aura's key type (`aura`), sr25519.
const AURA: &[u8; 4] = b"aura";
/// GRANDPA's key type (`gran`), ed25519.
const GRANDPA: &[u8; 4] = b"gran";

/// Writes the Aura (sr25519) and GRANDPA (ed25519) keys of `uri` into `dir`.
pub fn write_authority_keys(dir: &Path, uri: &str) -> Result<()> {
	let bad_uri = |e: stagenet_chain::keys::KeyError| NetworkError::InvalidConfig {
		reason: e.to_string(),
		hint: "validator keys are secret URIs such as `//Alice` or `//Validator7`".into(),
	};
	let aura = sr25519_public(uri).map_err(bad_uri)?;
	let grandpa = ed25519_public(uri).map_err(bad_uri)?;
	std::fs::create_dir_all(dir).map_err(|source| NetworkError::Io {
		path: dir.to_path_buf(),
		source,
	})?;
	let content = serde_json::to_string(uri).map_err(|e| NetworkError::InvalidConfig {
		reason: format!("secret URI cannot be written: {e}"),
		hint: "use a plain secret URI".into(),
	})?;
	for (key_type, public) in [(AURA, aura), (GRANDPA, grandpa)] {
		let path = dir.join(format!("{}{}", hex::encode(key_type), hex::encode(public)));
		std::fs::write(&path, &content).map_err(|source| NetworkError::Io { path, source })?;
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn alice_keys_are_named_as_the_node_names_them() {
		let dir = tempfile::tempdir().expect("temp dir");
		write_authority_keys(dir.path(), "//Alice").expect("keys");
		let mut names: Vec<String> = std::fs::read_dir(dir.path())
			.expect("dir")
			.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
			.collect();
		names.sort();
		// Alice's well-known public keys (sr25519 and ed25519 of `//Alice`).
		assert_eq!(
			names,
			vec![
				"61757261d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
				"6772616e88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee",
			]
		);
		let content = std::fs::read_to_string(dir.path().join(&names[0])).expect("file");
		assert_eq!(content, "\"//Alice\"");
	}
}
