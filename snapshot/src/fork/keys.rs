//! Keys a fork needs: dev authorities (Aura sr25519, GRANDPA ed25519) derived from secret URIs
//! like `//Alice`, and accounts given by secret URI, SS58 address or hex.
//!
//! sr25519 derivation comes from `subxt-signer`. ed25519 is derived here the way Substrate's
//! `sp_core::ed25519::Pair` does it (BIP39 entropy → PBKDF2-HMAC-SHA512 mini secret → hard
//! junctions `blake2_256(("Ed25519HDKD", seed, chain_code))`); a test pins the result against
//! the public keys the test chain's node prints for the same URIs.

use blake2::{digest::consts::U32, Blake2b, Digest as _};
use parity_scale_codec::{Compact, Encode};
use sha2::Sha512;
use std::str::FromStr;
use subxt::utils::AccountId32;
use subxt_signer::{sr25519, SecretUri};

/// The phrase behind `//Alice` and the other dev URIs (Substrate's `DEV_PHRASE`).
pub const DEV_PHRASE: &str =
	"bottom drive obey lake curtain smoke basket hold race lonely fit walk";

/// Dev URIs handed to validators in order (`//Alice`, `//Bob`, …), matching the nodes'
/// `--alice`, `--bob` … flags.
pub const DEV_URIS: [&str; 6] = [
	"//Alice",
	"//Bob",
	"//Charlie",
	"//Dave",
	"//Eve",
	"//Ferdie",
];

/// The sr25519 public key (= account id) of a secret URI such as `//Alice`.
pub fn sr25519_public(uri: &str) -> Result<[u8; 32], String> {
	let secret =
		SecretUri::from_str(uri).map_err(|e| format!("`{uri}` is not a secret URI: {e}"))?;
	let pair = sr25519::Keypair::from_uri(&secret)
		.map_err(|e| format!("cannot derive an sr25519 key from `{uri}`: {e}"))?;
	Ok(pair.public_key().0)
}

/// A secret URI split into phrase, hard junctions and password. Only hard junctions (`//x`)
/// exist for ed25519; a soft one (`/x`) is an error, as in Substrate.
fn split_uri(uri: &str) -> Result<(String, Vec<String>, String), String> {
	let (body, password) = match uri.split_once("///") {
		Some((b, p)) => (b, p.to_string()),
		None => (uri, String::new()),
	};
	let start = body.find('/').unwrap_or(body.len());
	let phrase = body[..start].trim();
	let phrase = if phrase.is_empty() {
		DEV_PHRASE.to_string()
	} else {
		phrase.to_string()
	};
	let mut junctions = Vec::new();
	let mut rest = &body[start..];
	while !rest.is_empty() {
		let Some(after) = rest.strip_prefix("//") else {
			return Err(format!(
				"`{uri}` has a soft junction (`/x`), which ed25519 keys cannot have \
				 (hint: use hard junctions like `//Alice`)"
			));
		};
		let end = after.find('/').unwrap_or(after.len());
		junctions.push(after[..end].to_string());
		rest = &after[end..];
	}
	Ok((phrase, junctions, password))
}

fn blake2_256(data: &[u8]) -> [u8; 32] {
	let mut h = Blake2b::<U32>::new();
	h.update(data);
	h.finalize().into()
}

/// The chain code of a junction: a number is its SCALE `u64`, anything else its SCALE
/// string; 32 bytes or fewer are zero-padded, longer ones hashed.
fn chain_code(junction: &str) -> [u8; 32] {
	let encoded = match junction.parse::<u64>() {
		Ok(n) => n.encode(),
		Err(_) => junction.encode(),
	};
	let mut cc = [0u8; 32];
	if encoded.len() > 32 {
		cc = blake2_256(&encoded);
	} else {
		cc[..encoded.len()].copy_from_slice(&encoded);
	}
	cc
}

/// The ed25519 public key of a secret URI such as `//Alice`.
pub fn ed25519_public(uri: &str) -> Result<[u8; 32], String> {
	let (phrase, junctions, password) = split_uri(uri)?;
	let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &phrase)
		.map_err(|e| format!("`{uri}`: the phrase is not a BIP39 mnemonic: {e}"))?;
	let entropy = mnemonic.to_entropy();
	let salt = format!("mnemonic{password}");
	let mut big = [0u8; 64];
	pbkdf2::pbkdf2_hmac::<Sha512>(&entropy, salt.as_bytes(), 2048, &mut big);
	let mut seed = [0u8; 32];
	seed.copy_from_slice(&big[..32]);
	for j in &junctions {
		let mut data = Vec::with_capacity(80);
		"Ed25519HDKD".encode_to(&mut data);
		data.extend_from_slice(&seed);
		data.extend_from_slice(&chain_code(j));
		seed = blake2_256(&data);
	}
	Ok(ed25519_dalek::SigningKey::from_bytes(&seed)
		.verifying_key()
		.to_bytes())
}

/// An account given as a secret URI (`//Alice`, `<phrase>//x`), an SS58 address or 32 bytes
/// of hex (`0x…`).
pub fn account(text: &str) -> Result<[u8; 32], String> {
	let t = text.trim();
	if let Some(hex) = t.strip_prefix("0x") {
		let bytes = hex::decode(hex).map_err(|e| format!("`{t}` is not hex: {e}"))?;
		return <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
			format!(
				"`{t}` holds {} bytes; an account id is 32 bytes",
				bytes.len()
			)
		});
	}
	if t.starts_with('/') || t.contains(' ') || t.contains("//") {
		return sr25519_public(t);
	}
	AccountId32::from_str(t).map(|a| a.0).map_err(|e| {
		format!(
			"`{t}` is neither a secret URI (`//Alice`), an SS58 address nor 0x hex: {e} \
			 (hint: dev accounts are written `//Alice`, `//Bob` …)"
		)
	})
}

/// The SS58 address (prefix 42, generic Substrate) of an account id.
pub fn ss58(account: &[u8; 32]) -> String {
	AccountId32(*account).to_string()
}

/// SCALE `Compact<u32>` length prefix (used when a list of keys is written by hand).
pub(crate) fn compact_len(n: usize) -> Vec<u8> {
	Compact(n as u32).encode()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn dev_keys_match_substrate() {
		// Published values of Substrate's keyring (`subkey inspect //Alice`, `--scheme ed25519`).
		assert_eq!(
			hex::encode(sr25519_public("//Alice").unwrap()),
			"d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
		);
		assert_eq!(
			hex::encode(ed25519_public("//Alice").unwrap()),
			"88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee"
		);
		assert_eq!(
			hex::encode(ed25519_public("//Bob").unwrap()),
			"d17c2d7823ebf260fd138f2d7e27d114c0145d968b5ff5006125f2414fadae69"
		);
	}

	#[test]
	fn accounts_in_every_form() {
		let alice = sr25519_public("//Alice").unwrap();
		assert_eq!(account("//Alice").unwrap(), alice);
		assert_eq!(
			account("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").unwrap(),
			alice
		);
		assert_eq!(account(&ss58(&alice)).unwrap(), alice);
		assert_eq!(
			account(&format!("0x{}", hex::encode(alice))).unwrap(),
			alice
		);
		let e = account("alice").unwrap_err();
		assert!(e.contains("hint"), "{e}");
		assert!(split_uri("//Alice/soft").is_err());
	}
}
