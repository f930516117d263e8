//! Image headers for size checks (shared with benches/soak.rs, which includes this file).

/// A PNG that is only its signature and an IHDR chunk announcing `w` x `h` at `depth` bits
/// and colour type `colour` (CRC not filled in): a header for size checks.
pub fn png_header(w: u32, h: u32, depth: u8, colour: u8) -> Vec<u8> {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    b.extend_from_slice(&13u32.to_be_bytes());
    b.extend_from_slice(b"IHDR");
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[depth, colour, 0, 0, 0]);
    b.extend_from_slice(&[0, 0, 0, 0]);
    b
}
