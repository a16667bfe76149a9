//! Batch framing: `u32 count`, then per message `u32 length` and the bytes (little endian).
//!
//! Raw bytes rather than JSON strings, because a Kafka message is bytes: a non-UTF-8 message
//! must reach the module intact so that it can reject it with a reason.

/// Encodes messages into one batch buffer.
pub fn encode<'a, I>(messages: I) -> Vec<u8>
where
    I: IntoIterator<Item = &'a [u8]>,
    I::IntoIter: ExactSizeIterator + Clone,
{
    let mut out = Vec::new();
    encode_into(&mut out, messages);
    out
}

/// Encodes messages into `out`, replacing what it held (a buffer reused from call to call).
pub fn encode_into<'a, I>(out: &mut Vec<u8>, messages: I)
where
    I: IntoIterator<Item = &'a [u8]>,
    I::IntoIter: ExactSizeIterator + Clone,
{
    let iter = messages.into_iter();
    out.clear();
    out.reserve(4 + iter.clone().map(|m| 4 + m.len()).sum::<usize>());
    out.extend_from_slice(&(iter.len() as u32).to_le_bytes());
    for m in iter {
        out.extend_from_slice(&(m.len() as u32).to_le_bytes());
        out.extend_from_slice(m);
    }
}

/// Why a batch buffer could not be split into messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed batch frame: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

/// Splits a batch buffer into message slices (no copies).
pub fn decode(buf: &[u8]) -> Result<Vec<&[u8]>, FrameError> {
    let mut rest = buf;
    let count = take_u32(&mut rest).ok_or_else(|| FrameError("missing count".into()))? as usize;
    // Every message needs at least its 4-byte length, which bounds a lying count.
    if count > rest.len() / 4 {
        return Err(FrameError(format!("count {count} exceeds what {} bytes can hold", rest.len())));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let len = take_u32(&mut rest)
            .ok_or_else(|| FrameError(format!("message {i}: missing length")))? as usize;
        if len > rest.len() {
            return Err(FrameError(format!("message {i}: length {len} past the end")));
        }
        let (m, tail) = rest.split_at(len);
        out.push(m);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(FrameError(format!("{} trailing bytes", rest.len())));
    }
    Ok(out)
}

fn take_u32(buf: &mut &[u8]) -> Option<u32> {
    if buf.len() < 4 {
        return None;
    }
    let (head, tail) = buf.split_at(4);
    *buf = tail;
    Some(u32::from_le_bytes([head[0], head[1], head[2], head[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_bytes_and_order() {
        let msgs: Vec<&[u8]> = vec![b"a\tb", b"", &[0xff, 0xfe, 0x00], b"{}"];
        let buf = encode(msgs.iter().copied());
        assert_eq!(decode(&buf).unwrap(), msgs);
    }

    #[test]
    fn rejects_truncated_and_lying_buffers() {
        let buf = encode([b"hello".as_slice()]);
        assert!(decode(&buf[..buf.len() - 1]).is_err());
        assert!(decode(&[]).is_err());
        let mut lying = buf.clone();
        lying[0] = 200;
        assert!(decode(&lying).is_err());
        let mut trailing = buf;
        trailing.push(0);
        assert!(decode(&trailing).is_err());
    }
}
