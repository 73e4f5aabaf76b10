//! Bytes as the inspector shows them: two hex digits each, spaced. Written for every native gRPC message the tap
//! records, so it builds one string from a table rather than a string per byte.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 3);
    for (index, byte) in bytes.iter().enumerate() {
        if index > 0 {
            text.push(' ');
        }
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_lowercase_digits_a_byte_spaced() {
        assert_eq!(super::hex(&[0x08, 0xac, 0x02, 0xff, 0x00]), "08 ac 02 ff 00");
        assert_eq!(super::hex(&[]), "");
    }
}
