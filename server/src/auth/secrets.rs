//! Random secrets and their digests: session cookies, invitation links, API tokens.
//!
//! Secrets are 256 random bits in URL-safe base64; only their sha256 is stored, so a copy of
//! the database does not let anyone sign in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A fresh 256-bit secret, URL-safe.
pub fn random_secret() -> String {
    let mut bytes = [0_u8; 32];
    // The operating system's generator failing means no secret can be made safely at all.
    getrandom::fill(&mut bytes).expect("the operating system's random generator is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lowercase hex sha256 of `secret`, as stored.
pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compares two digests in time independent of where they differ.
pub fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_url_safe() {
        let a = random_secret();
        let b = random_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(sha256_hex(&a).len(), 64);
        assert!(same_digest(&sha256_hex(&a), &sha256_hex(&a)));
        assert!(!same_digest(&sha256_hex(&a), &sha256_hex(&b)));
    }
}
