//! Best-fit folding of `%uHHHH` code points onto ASCII, as ModSecurity does with its
//! recommended unicode map (code page 20127): accented Latin-1 letters lose their
//! accents, typographic punctuation becomes its ASCII look-alike.

/// Latin-1 supplement U+00A0..=U+00FF; 0 means "no fold, keep the low byte".
#[rustfmt::skip]
const LATIN1: [u8; 96] = [
    b' ', b'!', b'c', 0, b'$', b'Y', b'|', 0, 0, b'C', b'a', b'<', 0, b'-', b'R', 0,
    0, 0, b'2', b'3', 0, 0, 0, b'.', b',', b'1', b'o', b'>', 0, 0, 0, 0,
    b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'C', b'E', b'E', b'E', b'E', b'I', b'I', b'I', b'I',
    b'D', b'N', b'O', b'O', b'O', b'O', b'O', 0, b'O', b'U', b'U', b'U', b'U', b'Y', 0, 0,
    b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'c', b'e', b'e', b'e', b'e', b'i', b'i', b'i', b'i',
    0, b'n', b'o', b'o', b'o', b'o', b'o', 0, b'o', b'u', b'u', b'u', b'u', b'y', 0, b'y',
];

pub fn ascii(cp: u32) -> Option<u8> {
    match cp {
        0xa0..=0xff => Some(LATIN1[(cp - 0xa0) as usize]).filter(|b| *b != 0),
        0x2010..=0x2015 => Some(b'-'),
        0x2018..=0x201b | 0x2032 | 0x2035 => Some(b'\''),
        0x201c..=0x201f | 0x2033 | 0x2036 => Some(b'"'),
        0x2022 | 0x2024 | 0x2026 => Some(b'.'),
        0x2039 => Some(b'<'),
        0x203a => Some(b'>'),
        0x2044 => Some(b'/'),
        _ => None,
    }
}
