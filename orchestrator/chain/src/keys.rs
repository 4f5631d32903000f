//! Keys a fork needs: dev authorities (Aura sr25519, GRANDPA ed25519) derived from secret URIs
//! like `//Alice`, and accounts given by secret URI, SS58 address or hex.
//!
//! sr25519 derivation comes from `subxt-signer`. ed25519 is derived here the way Substrate's
//! `sp_core::ed25519::Pair` does it (BIP39 entropy → PBKDF2-HMAC-SHA512 mini secret → hard
//! junctions `blake2_256(("Ed25519HDKD", seed, chain_code))`); a test pins the result against
//! the public keys the test chain's node prints for the same URIs.

use crate::hash::blake2_256;
use parity_scale_codec::{Compact, Encode};
use sha2::Sha512;
use std::{collections::HashMap, str::FromStr};
use subxt::utils::AccountId32;
use subxt_signer::{sr25519, ExposeSecret, SecretString, SecretUri};

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

/// Why a key or an account could not be had from the text given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
	/// Not a secret URI (`//Alice`, `<phrase>//x///password`).
	#[error("`{uri}` is not a secret URI: {reason}{}", hint_of(.templated))]
	NotAUri {
		/// The text.
		uri: String,
		/// Why.
		reason: String,
		/// Whether it came from a template (`//stress//{i}`), which the hint then names.
		templated: bool,
	},
	/// A secret URI whose key cannot be derived.
	#[error("cannot derive an sr25519 key from `{uri}`: {reason}{}", derive_hint(.templated))]
	Derive {
		/// The URI.
		uri: String,
		/// Why.
		reason: String,
		/// Whether it came from a template.
		templated: bool,
	},
	/// A soft junction (`/x`) in a URI of an ed25519 key.
	#[error(
		"`{uri}` has a soft junction (`/x`), which ed25519 keys cannot have (hint: use hard \
		 junctions like `//Alice`)"
	)]
	SoftJunction {
		/// The URI.
		uri: String,
	},
	/// The phrase of a URI is not a BIP39 mnemonic.
	#[error("`{uri}`: the phrase is not a BIP39 mnemonic: {reason}")]
	NotAMnemonic {
		/// The URI.
		uri: String,
		/// Why.
		reason: String,
	},
	/// A template for many accounts without `{i}`.
	#[error(
		"`{template}` has no `{{i}}`: all {count} accounts would be the same one (hint: \
		 `//stress//{{i}}`)"
	)]
	NoIndex {
		/// The template.
		template: String,
		/// How many accounts it was to name.
		count: u32,
	},
	/// More accounts from one template than [`MAX_TEMPLATED_ACCOUNTS`].
	#[error(
		"{count} accounts from `{template}`: at most {MAX_TEMPLATED_ACCOUNTS} (hint: split the \
		 range into entries with `first`)"
	)]
	TooMany {
		/// The template.
		template: String,
		/// How many were asked for.
		count: u32,
	},
	/// Indexes past `u32::MAX`.
	#[error(
		"accounts {first} to {first} + {count} - 1 pass the last index {} (hint: lower \
		 `first` or `count`)",
		u32::MAX
	)]
	IndexOverflow {
		/// The first index.
		first: u32,
		/// How many.
		count: u32,
	},
	/// `0x…` that is not hex.
	#[error("`{text}` is not hex: {reason}")]
	NotHex {
		/// The text.
		text: String,
		/// Why.
		reason: String,
	},
	/// Hex of another length than an account id's.
	#[error("`{text}` holds {len} bytes; an account id is 32 bytes")]
	WrongLength {
		/// The text.
		text: String,
		/// Its length in bytes.
		len: usize,
	},
	/// Neither a secret URI, an SS58 address nor hex.
	#[error(
		"`{text}` is neither a secret URI (`//Alice`), an SS58 address nor 0x hex: {reason} \
		 (hint: dev accounts are written `//Alice`, `//Bob` …)"
	)]
	NotAnAccount {
		/// The text.
		text: String,
		/// Why it is not an SS58 address.
		reason: String,
	},
}

fn hint_of(templated: &bool) -> &'static str {
	if *templated {
		" (hint: `//stress//{i}`)"
	} else {
		""
	}
}

fn derive_hint(templated: &bool) -> &'static str {
	if *templated {
		" (hint: a templated account is a secret URI such as `//stress//{i}` or \
		 `<phrase>//x//{i}`)"
	} else {
		""
	}
}

/// Result of this module.
pub type Result<T, E = KeyError> = std::result::Result<T, E>;

fn secret_uri(uri: &str, templated: bool) -> Result<SecretUri> {
	SecretUri::from_str(uri).map_err(|e| KeyError::NotAUri {
		uri: uri.to_string(),
		reason: e.to_string(),
		templated,
	})
}

/// The sr25519 public key (= account id) of a secret URI such as `//Alice`.
pub fn sr25519_public(uri: &str) -> Result<[u8; 32]> {
	let secret = secret_uri(uri, false)?;
	let pair = sr25519::Keypair::from_uri(&secret).map_err(|e| KeyError::Derive {
		uri: uri.to_string(),
		reason: e.to_string(),
		templated: false,
	})?;
	Ok(pair.public_key().0)
}

/// The most accounts one secret URI template may name ([`sr25519_publics`]).
pub const MAX_TEMPLATED_ACCOUNTS: u32 = 1 << 20;

/// The sr25519 public keys of `count` accounts named by a secret URI template such as
/// `//stress//{i}`: `{i}` becomes `first`, `first + 1`, … in turn.
///
/// Deriving each URI from scratch stretches its phrase with PBKDF2 (2048 rounds of
/// HMAC-SHA512, about a millisecond) every time. Here the root key of each distinct phrase and
/// password is derived once, and each URI's junctions are applied to it: thousands of accounts
/// take a fraction of a second. The keys equal [`sr25519_public`] of each URI.
pub fn sr25519_publics(template: &str, first: u32, count: u32) -> Result<Vec<[u8; 32]>> {
	if count > 1 && !template.contains("{i}") {
		return Err(KeyError::NoIndex {
			template: template.to_string(),
			count,
		});
	}
	if count > MAX_TEMPLATED_ACCOUNTS {
		return Err(KeyError::TooMany {
			template: template.to_string(),
			count,
		});
	}
	if count > 0 && first.checked_add(count - 1).is_none() {
		return Err(KeyError::IndexOverflow { first, count });
	}
	let mut deriver = Deriver::default();
	let mut publics = Vec::with_capacity(count as usize);
	for n in 0..count {
		let uri = template.replace("{i}", &(u64::from(first) + u64::from(n)).to_string());
		let secret = secret_uri(&uri, true)?;
		publics.push(deriver.derive(&secret).map_err(|reason| KeyError::Derive {
			uri: uri.clone(),
			reason,
			templated: true,
		})?);
	}
	Ok(publics)
}

/// Derives sr25519 accounts from secret URIs, stretching each distinct phrase and password
/// once (PBKDF2, about a millisecond) and applying each URI's junctions to that root, so that
/// a profile naming many accounts by URI costs microseconds per account. The keys equal
/// [`sr25519_public`] of each URI.
#[derive(Default)]
pub struct Deriver {
	roots: HashMap<(String, Option<String>), sr25519::Keypair>,
}

impl Deriver {
	fn derive(&mut self, secret: &SecretUri) -> std::result::Result<[u8; 32], String> {
		let phrase = secret.phrase.expose_secret().to_string();
		let password = secret
			.password
			.as_ref()
			.map(|p| p.expose_secret().to_string());
		let root = match self.roots.entry((phrase, password)) {
			std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
			std::collections::hash_map::Entry::Vacant(e) => {
				let (phrase, password) = e.key();
				let bare = SecretUri {
					phrase: SecretString::from(phrase.clone()),
					password: password.clone().map(SecretString::from),
					junctions: Vec::new(),
				};
				let pair = sr25519::Keypair::from_uri(&bare).map_err(|err| err.to_string())?;
				e.insert(pair)
			}
		};
		Ok(root.derive(secret.junctions.iter().copied()).public_key().0)
	}

	/// [`sr25519_public`], with the phrase's root key cached.
	pub fn public(&mut self, uri: &str) -> Result<[u8; 32]> {
		let secret = secret_uri(uri, false)?;
		self.derive(&secret).map_err(|reason| KeyError::Derive {
			uri: uri.to_string(),
			reason,
			templated: false,
		})
	}

	/// [`account`], with the phrase's root key cached.
	pub fn account(&mut self, text: &str) -> Result<[u8; 32]> {
		let t = text.trim();
		if is_uri(t) {
			return self.public(t);
		}
		account(t)
	}
}

fn is_uri(t: &str) -> bool {
	!t.starts_with("0x") && (t.starts_with('/') || t.contains(' ') || t.contains("//"))
}

/// A secret URI split into phrase, hard junctions and password. Only hard junctions (`//x`)
/// exist for ed25519; a soft one (`/x`) is an error, as in Substrate.
fn split_uri(uri: &str) -> Result<(String, Vec<String>, String)> {
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
			return Err(KeyError::SoftJunction {
				uri: uri.to_string(),
			});
		};
		let end = after.find('/').unwrap_or(after.len());
		junctions.push(after[..end].to_string());
		rest = &after[end..];
	}
	Ok((phrase, junctions, password))
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
pub fn ed25519_public(uri: &str) -> Result<[u8; 32]> {
	let (phrase, junctions, password) = split_uri(uri)?;
	let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &phrase)
		.map_err(|e| KeyError::NotAMnemonic {
			uri: uri.to_string(),
			reason: e.to_string(),
		})?;
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
pub fn account(text: &str) -> Result<[u8; 32]> {
	let t = text.trim();
	if let Some(hex) = t.strip_prefix("0x") {
		let bytes = hex::decode(hex).map_err(|e| KeyError::NotHex {
			text: t.to_string(),
			reason: e.to_string(),
		})?;
		return <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::WrongLength {
			text: t.to_string(),
			len: bytes.len(),
		});
	}
	if is_uri(t) {
		return sr25519_public(t);
	}
	AccountId32::from_str(t)
		.map(|a| a.0)
		.map_err(|e| KeyError::NotAnAccount {
			text: t.to_string(),
			reason: e.to_string(),
		})
}

/// The SS58 address (prefix 42, generic Substrate) of an account id.
pub fn ss58(account: &[u8; 32]) -> String {
	AccountId32(*account).to_string()
}

/// SCALE `Compact<u32>` length prefix (used when a list of keys is written by hand).
pub fn compact_len(n: usize) -> Vec<u8> {
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
	fn templated_accounts_equal_each_uri_derived_alone() {
		let publics = sr25519_publics("//stress//{i}", 5, 3).unwrap();
		assert_eq!(publics.len(), 3);
		for (n, public) in publics.iter().enumerate() {
			let uri = format!("//stress//{}", 5 + n);
			assert_eq!(*public, sr25519_public(&uri).unwrap(), "{uri}");
		}
		// A phrase, soft and hard junctions, a password; the index in two places.
		let template = format!("{DEV_PHRASE}//pool{{i}}/soft//{{i}}///secret");
		let publics = sr25519_publics(&template, 4094, 2).unwrap();
		for (n, public) in publics.iter().enumerate() {
			let uri = template.replace("{i}", &(4094 + n).to_string());
			assert_eq!(*public, sr25519_public(&uri).unwrap(), "{uri}");
		}
		assert_ne!(publics[0], publics[1]);
		assert_eq!(
			sr25519_publics("//Alice", 0, 1).unwrap(),
			[sr25519_public("//Alice").unwrap()]
		);
		assert!(sr25519_publics("//stress//{i}", 0, 0).unwrap().is_empty());
	}

	#[test]
	fn the_deriver_equals_deriving_each_uri_alone() {
		let mut d = Deriver::default();
		for uri in [
			"//Alice",
			"//Bob//stash",
			"//x/soft",
			&format!("{DEV_PHRASE}//a///pw"),
		] {
			assert_eq!(
				d.account(uri).unwrap(),
				sr25519_public(uri).unwrap(),
				"{uri}"
			);
		}
		let alice = sr25519_public("//Alice").unwrap();
		assert_eq!(d.account(&ss58(&alice)).unwrap(), alice);
		assert!(d.account("not a phrase//x").is_err());
	}

	/// By hand: `cargo test -p stagenet-snapshot --lib -- --ignored --nocapture
	/// funded_account_derivation_cost` (the figures go to BENCHMARKS.md).
	#[test]
	#[ignore = "a timing, run by hand"]
	fn funded_account_derivation_cost() {
		let t = std::time::Instant::now();
		for i in 0..1000 {
			sr25519_public(&format!("//many//{i}")).unwrap();
		}
		let each_alone = t.elapsed() / 1000;
		let t = std::time::Instant::now();
		let mut d = Deriver::default();
		for i in 0..200_000 {
			d.account(&format!("//many//{i}")).unwrap();
		}
		let shared = t.elapsed();
		println!(
			"each URI alone: {each_alone:?} per account ({:.1} s for 200 000); shared root: \
			 {:?} per account ({:.1} s for 200 000)",
			each_alone.as_secs_f64() * 200_000.0,
			shared / 200_000,
			shared.as_secs_f64()
		);
	}

	#[test]
	fn templated_accounts_refuse_what_cannot_be_derived() {
		let e = sr25519_publics("//stress", 0, 2).unwrap_err().to_string();
		assert!(e.contains("no `{i}`") && e.contains("hint"), "{e}");
		let e = sr25519_publics("not a phrase at all{i}//x", 0, 1).unwrap_err().to_string();
		assert!(e.contains("cannot derive") && e.contains("hint"), "{e}");
		let e = sr25519_publics("//stress//{i}", u32::MAX, 2).unwrap_err().to_string();
		assert!(e.contains("last index"), "{e}");
		let e = sr25519_publics("//stress//{i}", 0, MAX_TEMPLATED_ACCOUNTS + 1).unwrap_err().to_string();
		assert!(e.contains("at most"), "{e}");
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
		let e = account("alice").unwrap_err().to_string();
		assert!(e.contains("hint"), "{e}");
		assert!(split_uri("//Alice/soft").is_err());
	}
}
