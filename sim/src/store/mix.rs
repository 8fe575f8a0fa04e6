//! Stable hashing for seeds and derived ids, independent of std's hasher.

/// A stable 64-bit mix (FNV-1a then splitmix), so seeds do not depend on std's hasher.
pub fn mix(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A GUID that is a stable function of `parts`: the high half mixes `parts`, the low half mixes
/// the high half with `low_salt`, so ids stay the same from run to run for the same seed.
pub fn mixed_guid(parts: &[&[u8]], low_salt: &[u8]) -> String {
    let a = mix(parts);
    let b = mix(&[&a.to_le_bytes(), low_salt]);
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&a.to_le_bytes());
    raw[8..].copy_from_slice(&b.to_le_bytes());
    uuid::Builder::from_random_bytes(raw)
        .into_uuid()
        .to_string()
}
