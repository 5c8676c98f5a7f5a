//! Stream framing shared by simulated and real QUIC: each sealed frame goes on a stream
//! behind its little-endian `u32` length.

/// Largest sealed frame accepted on a stream.
pub const MAX_FRAME: usize = 64 * 1024;

/// Takes the complete length-prefixed frames off the front of `buf` (a stream's received
/// bytes); an incomplete frame stays. `false` when a length exceeds [`MAX_FRAME`]: the
/// stream is garbage and the caller stops reading it.
pub fn split_frames(buf: &mut Vec<u8>) -> (Vec<Vec<u8>>, bool) {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 4 {
        let len = u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        if len > MAX_FRAME {
            buf.drain(..at);
            return (out, false);
        }
        if buf.len() - at < 4 + len {
            break;
        }
        out.push(buf[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    buf.drain(..at);
    (out, true)
}

/// A sealed frame with its length prefix, as it goes on a stream.
pub fn frame(sealed: Vec<u8>) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + sealed.len());
    v.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
    v.extend_from_slice(&sealed);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversize_is_garbage() {
        let mut buf = frame(b"ab".to_vec());
        buf.extend(frame(Vec::new()));
        buf.extend_from_slice(&frame(b"xyz".to_vec())[..5]);
        let (frames, ok) = split_frames(&mut buf);
        assert!(ok);
        assert_eq!(frames, vec![b"ab".to_vec(), Vec::new()]);
        assert_eq!(buf.len(), 5, "the incomplete frame stays");
        let mut bad = ((MAX_FRAME + 1) as u32).to_le_bytes().to_vec();
        assert!(!split_frames(&mut bad).1);
    }
}
