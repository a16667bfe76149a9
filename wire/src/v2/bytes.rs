//! The primitives every v2 item is made of: unsigned LEB128 integers, zigzag for signed ones,
//! little-endian `f64`, and length-prefixed UTF-8 strings. The reader never panics and never
//! allocates: a lying length is caught against the bytes left before anything is sliced.

use super::decode::Malformed;

/// Appends `v` as unsigned LEB128: seven bits a byte, low bits first, the high bit set on
/// every byte but the last.
pub fn put_uvar(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zigzag: 0, -1, 1, -2, ... map to 0, 1, 2, 3, ..., so small negative numbers stay short.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvar(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A cursor over a module's output.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn u8(&mut self) -> Result<u8, Malformed> {
        let b = *self.buf.get(self.pos).ok_or(Malformed::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// Unsigned LEB128 of at most ten bytes; an encoding that overflows 64 bits is refused.
    pub fn uvar(&mut self) -> Result<u64, Malformed> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(Malformed::VarintOverflow);
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Malformed::VarintOverflow)
    }

    /// A count or length: an unsigned LEB128 that must fit in 32 bits.
    pub fn len(&mut self) -> Result<usize, Malformed> {
        let v = self.uvar()?;
        u32::try_from(v).map(|v| v as usize).map_err(|_| Malformed::VarintOverflow)
    }

    pub fn f64(&mut self) -> Result<f64, Malformed> {
        let bytes = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(bytes);
        Ok(f64::from_le_bytes(a))
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.remaining() {
            return Err(Malformed::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn str(&mut self) -> Result<&'a str, Malformed> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes).map_err(|_| Malformed::NotUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_round_trips_and_matches_the_usual_examples() {
        let mut out = Vec::new();
        put_uvar(&mut out, 624_485);
        assert_eq!(out, [0xe5, 0x8e, 0x26], "the example every LEB128 description gives");
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_uvar(&mut out, v);
            assert_eq!(Reader::new(&out).uvar(), Ok(v));
        }
    }

    #[test]
    fn overlong_and_truncated_varints_are_refused() {
        assert_eq!(Reader::new(&[0x80]).uvar(), Err(Malformed::Truncated));
        assert_eq!(Reader::new(&[0xff; 11]).uvar(), Err(Malformed::VarintOverflow));
        // Ten bytes whose last carries more than the 64th bit.
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(Reader::new(&too_big).uvar(), Err(Malformed::VarintOverflow));
        assert_eq!(Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x10]).len(), Err(Malformed::VarintOverflow));
    }

    #[test]
    fn zigzag_keeps_small_numbers_small() {
        assert_eq!([0, -1, 1, -2, 2].map(zigzag), [0, 1, 2, 3, 4]);
        for v in [0, -1, 1, i64::MIN, i64::MAX, 1_731_764_009_298] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn strings_are_checked_against_the_bytes_left_and_utf8() {
        assert_eq!(Reader::new(&[5, b'a']).str(), Err(Malformed::Truncated));
        assert_eq!(Reader::new(&[2, 0xff, 0xfe]).str(), Err(Malformed::NotUtf8));
        assert_eq!(Reader::new(&[2, b'o', b'k']).str(), Ok("ok"));
    }
}
