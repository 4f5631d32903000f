//! Accounts of a load (derived from one secret URI template) and transactions signed ahead of
//! time, in parallel, with explicit nonces and immortal eras.

use super::calls::RawPayload;
use std::str::FromStr;
use subxt::{config::SubstrateExtrinsicParamsBuilder, OnlineClientAtBlock, SubstrateConfig};
use subxt_signer::{bip39, sr25519::Keypair, SecretUri, DEV_PHRASE};

/// Derives `count` keypairs from `template` (`//stress//{i}`, `{i}` = `first` …). The
/// phrase's root key is derived once (PBKDF2 is the slow part), then each URI's junctions.
pub(crate) fn keypairs(template: &str, first: u32, count: u32) -> Result<Vec<Keypair>, String> {
	let sample = SecretUri::from_str(&template.replace("{i}", &first.to_string()))
		.map_err(|e| format!("`{template}` is not a secret URI: {e}"))?;
	let phrase = {
		use subxt_signer::ExposeSecret;
		sample.phrase.expose_secret().to_string()
	};
	let phrase = if phrase.trim().is_empty() {
		DEV_PHRASE.to_string()
	} else {
		phrase
	};
	let password = sample.password.as_ref().map(|p| {
		use subxt_signer::ExposeSecret;
		p.expose_secret().to_string()
	});
	let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &phrase)
		.map_err(|e| format!("`{template}`: the phrase is not a BIP39 mnemonic: {e}"))?;
	let root = Keypair::from_phrase(&mnemonic, password.as_deref())
		.map_err(|e| format!("`{template}`: {e}"))?;
	(0..count)
		.map(|n| {
			let uri = template.replace("{i}", &(first.saturating_add(n)).to_string());
			let parsed = SecretUri::from_str(&uri)
				.map_err(|e| format!("`{uri}` is not a secret URI: {e}"))?;
			Ok(root.derive(parsed.junctions))
		})
		.collect()
}

/// One keypair from a secret URI (`//Alice`).
pub(crate) fn keypair(uri: &str) -> Result<Keypair, String> {
	let parsed =
		SecretUri::from_str(uri).map_err(|e| format!("`{uri}` is not a secret URI: {e}"))?;
	Keypair::from_uri(&parsed).map_err(|e| format!("cannot derive a key from `{uri}`: {e}"))
}

/// A transaction to sign: who signs, with which nonce, what.
pub(crate) struct ToSign {
	pub signer: usize,
	pub nonce: u64,
	pub payload: RawPayload,
}

/// A signed transaction.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
	/// The encoded extrinsic.
	pub bytes: Vec<u8>,
	/// blake2-256 of `bytes`.
	pub hash: [u8; 32],
}

/// Signs every item (immortal, explicit nonce) on `threads` threads; keeps the order.
pub(crate) fn sign_all(
	at: &OnlineClientAtBlock<SubstrateConfig>,
	keys: &[Keypair],
	items: Vec<ToSign>,
	threads: usize,
) -> Result<Vec<Signed>, String> {
	let threads = threads.max(1);
	let chunk = items.len().div_ceil(threads).max(1);
	let mut chunks: Vec<Vec<ToSign>> = Vec::new();
	let mut items = items.into_iter();
	loop {
		let part: Vec<ToSign> = items.by_ref().take(chunk).collect();
		if part.is_empty() {
			break;
		}
		chunks.push(part);
	}
	let results: Vec<Result<Vec<Signed>, String>> = std::thread::scope(|scope| {
		let handles: Vec<_> = chunks
			.into_iter()
			.map(|part| {
				let at = at.clone();
				scope.spawn(move || {
					let txs = at.transactions();
					part.into_iter()
						.map(|item| {
							let key = keys
								.get(item.signer)
								.ok_or_else(|| format!("no key for signer #{}", item.signer))?;
							let params = SubstrateExtrinsicParamsBuilder::<SubstrateConfig>::new()
								.immortal()
								.nonce(item.nonce)
								.build();
							let mut signable =
								txs.create_signable_offline(&item.payload, params)
									.map_err(|e| format!("build the transaction: {e}"))?;
							let signed = signable
								.sign(key)
								.map_err(|e| format!("sign the transaction: {e}"))?;
							let bytes = signed.into_encoded();
							let hash = stagenet_chain::hash::blake2_256(&bytes);
							Ok(Signed { bytes, hash })
						})
						.collect::<Result<Vec<_>, String>>()
				})
			})
			.collect();
		handles
			.into_iter()
			.map(|h| {
				h.join()
					.unwrap_or_else(|_| Err("a signing thread panicked".to_string()))
			})
			.collect()
	});
	let mut out = Vec::new();
	for r in results {
		out.extend(r?);
	}
	Ok(out)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn derived_keys_equal_keys_derived_from_each_uri() {
		let keys = keypairs("//stress//{i}", 5, 3).expect("derive");
		for (n, key) in keys.iter().enumerate() {
			let uri = format!("//stress//{}", 5 + n);
			let direct = keypair(&uri).expect("direct");
			assert_eq!(key.public_key().0, direct.public_key().0, "{uri}");
		}
		let alice = keypairs("//Alice", 0, 1).expect("alice");
		assert_eq!(
			alice[0].public_key().0,
			subxt_signer::sr25519::dev::alice().public_key().0
		);
	}
}
