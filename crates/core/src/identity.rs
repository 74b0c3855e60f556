//! Model identity: the opaque digest that binds a saved memory to the model
//! (and spec) it was written under.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Largest identity length in bytes.
pub const MAX_ID_LEN: usize = 32;

/// An opaque 16- or 32-byte identity supplied by the caller (usually the
/// SHA-256 of the ONNX bytes and the spec, see [`ModelId::digest`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelId {
    bytes: [u8; MAX_ID_LEN],
    len: u8,
}

impl ModelId {
    /// Wraps caller-supplied identity bytes.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] unless `bytes` is 16 or 32 long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match bytes.len() {
            16 | 32 => {
                let mut out = [0u8; MAX_ID_LEN];
                out[..bytes.len()].copy_from_slice(bytes);
                Ok(ModelId { bytes: out, len: bytes.len() as u8 })
            }
            n => Err(Error::input(format!("model identity must be 16 or 32 bytes, got {n}"))),
        }
    }

    /// SHA-256 over the parts, each prefixed by its length so that
    /// `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn digest(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let mut bytes = [0u8; MAX_ID_LEN];
        bytes.copy_from_slice(&hasher.finalize());
        ModelId { bytes, len: MAX_ID_LEN as u8 }
    }

    /// The identity bytes (16 or 32).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Lower-case hex, for logs and the JS `modelId` property.
    pub fn to_hex(&self) -> String {
        self.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelId({})", self.to_hex())
    }
}

/// First 8 bytes of SHA-256 over a float vector's little-endian bytes: binds
/// a saved memory to the centring vector its keys were hashed with.
pub fn fingerprint(values: &[f32]) -> [u8; 8] {
    let mut hasher = Sha256::new();
    for v in values {
        hasher.update(v.to_le_bytes());
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&hasher.finalize()[..8]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_other_than_16_or_32_are_refused() {
        assert!(ModelId::from_bytes(&[0; 16]).is_ok());
        assert!(ModelId::from_bytes(&[0; 32]).is_ok());
        for n in [0, 1, 15, 17, 31, 33] {
            assert!(ModelId::from_bytes(&vec![0; n]).is_err());
        }
    }

    #[test]
    fn digest_is_length_prefixed() {
        assert_ne!(ModelId::digest(&[b"ab", b"c"]), ModelId::digest(&[b"a", b"bc"]));
        assert_eq!(ModelId::digest(&[b"x"]).as_bytes().len(), 32);
    }
}
