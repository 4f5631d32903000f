//! libp2p peer ids of ed25519 node keys, so that reserved peers can be named before start.

use ed25519_dalek::SigningKey;

/// The libp2p `PeerId` (base58) of the node started with `--node-key <hex of secret>`.
///
/// A peer id of an ed25519 key is the identity multihash (code 0, length 36) of the
/// protobuf-encoded public key: field 1 (key type) = 1 (Ed25519), field 2 (data) = 32 bytes.
pub fn peer_id_from_node_key(secret: &[u8; 32]) -> String {
	let public = SigningKey::from_bytes(secret).verifying_key().to_bytes();
	let mut bytes = Vec::with_capacity(38);
	bytes.extend_from_slice(&[0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);
	bytes.extend_from_slice(&public);
	bs58::encode(bytes).into_string()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn known_node_key_gives_the_peer_id_the_node_prints() {
		// `stagenet-test-node key inspect-node-key --file <hex of 00…01>` printed this id.
		let mut secret = [0u8; 32];
		secret[31] = 1;
		assert_eq!(
			peer_id_from_node_key(&secret),
			"12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
		);
	}
}
