//! The hashes of Substrate storage keys and code.

use blake2::{
	digest::consts::{U16, U32},
	Blake2b, Digest as _,
};

/// blake2-256 of `data` (code hashes, extrinsic hashes, long chain codes).
pub fn blake2_256(data: &[u8]) -> [u8; 32] {
	Blake2b::<U32>::digest(data).into()
}

/// `0x`-prefixed hex of [`blake2_256`] (how nodes show extrinsic and code hashes).
pub fn blake2_256_hex(data: &[u8]) -> String {
	format!("0x{}", hex::encode(blake2_256(data)))
}

/// blake2-128 of `data` (the `Blake2_128` and `Blake2_128Concat` storage hashers).
pub fn blake2_128(data: &[u8]) -> [u8; 16] {
	Blake2b::<U16>::digest(data).into()
}

/// `twox64(data)` (the `Twox64Concat` storage hasher).
pub fn twox64(data: &[u8]) -> [u8; 8] {
	twox_hash::XxHash64::oneshot(0, data).to_le_bytes()
}

/// `twox256(data)` (the `Twox256` storage hasher).
pub fn twox256(data: &[u8]) -> [u8; 32] {
	let mut out = [0u8; 32];
	for (seed, chunk) in out.chunks_exact_mut(8).enumerate() {
		chunk.copy_from_slice(&twox_hash::XxHash64::oneshot(seed as u64, data).to_le_bytes());
	}
	out
}

/// `twox128(data)`: the hash of pallet and item names in storage keys.
pub fn twox128(data: &[u8]) -> [u8; 16] {
	let mut out = [0u8; 16];
	out[..8].copy_from_slice(&twox_hash::XxHash64::oneshot(0, data).to_le_bytes());
	out[8..].copy_from_slice(&twox_hash::XxHash64::oneshot(1, data).to_le_bytes());
	out
}

/// The 32-byte prefix of a pallet's storage item: `twox128(pallet) ++ twox128(item)`.
pub fn storage_prefix(pallet: &str, item: &str) -> [u8; 32] {
	let mut out = [0u8; 32];
	out[..16].copy_from_slice(&twox128(pallet.as_bytes()));
	out[16..].copy_from_slice(&twox128(item.as_bytes()));
	out
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn twox128_matches_known_storage_prefixes() {
		// `System` and `System::Number`, as every Substrate chain stores them.
		assert_eq!(hex::encode(twox128(b"System")), "26aa394eea5630e07c48ae0c9558cef7");
		assert_eq!(hex::encode(twox128(b"Account")), "b99d880ec681799c0cf30e8886371da9");
		// twox256 extends twox128 with the seeds 2 and 3; twox64 is its first half.
		assert_eq!(twox256(b"System")[..16], twox128(b"System"));
		assert_eq!(twox64(b"System"), twox128(b"System")[..8]);
		assert_eq!(
			hex::encode(storage_prefix("System", "Number")),
			"26aa394eea5630e07c48ae0c9558cef702a5c1b19ab7a04f536c519aca4983ac"
		);
	}

	#[test]
	fn blake2_256_matches_a_known_digest() {
		// blake2b-256 of the empty string.
		assert_eq!(
			hex::encode(blake2_256(b"")),
			"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
		);
		assert!(blake2_256_hex(b"").starts_with("0x0e5751c0"));
	}
}
