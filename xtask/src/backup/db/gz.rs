//! Parallel gzip for database snapshots: the input is cut into fixed-size chunks, each
//! compressed on its own core into a complete gzip member, and the members are written in
//! order. Concatenated members are a valid gzip file (`gzip -d`, `zcat`, flate2's
//! `MultiGzDecoder` all read them); memory stays at about `2 × threads × CHUNK`.

use std::io::{self, Read, Write};

use flate2::{Compression, GzBuilder};

/// 4 MiB chunks: the 32 KiB deflate window makes the ratio loss from chunking negligible.
pub const CHUNK: usize = 4 << 20;

/// Compress all of `input` into `out`. `on_chunk` is told how many input bytes are done.
pub fn compress<R: Read, W: Write>(
    mut input: R,
    mut out: W,
    level: u32,
    threads: usize,
    on_chunk: &mut dyn FnMut(u64),
) -> io::Result<()> {
    let threads = threads.max(1);
    let mut done = 0u64;
    let mut bufs: Vec<Vec<u8>> = (0..threads).map(|_| Vec::with_capacity(CHUNK)).collect();
    let mut outs: Vec<Vec<u8>> = (0..threads)
        .map(|_| Vec::with_capacity(CHUNK / 2))
        .collect();
    loop {
        let mut filled = 0;
        for buf in bufs.iter_mut() {
            buf.clear();
            (&mut input).take(CHUNK as u64).read_to_end(buf)?;
            if buf.is_empty() {
                break;
            }
            filled += 1;
            if buf.len() < CHUNK {
                break;
            }
        }
        if filled == 0 {
            if done == 0 {
                // Empty input still gives a valid (empty) gzip file.
                member(&[], &mut outs[0], level)?;
                out.write_all(&outs[0])?;
            }
            break;
        }
        std::thread::scope(|s| -> io::Result<()> {
            let handles: Vec<_> = bufs[..filled]
                .iter()
                .zip(outs.iter_mut())
                .map(|(b, o)| s.spawn(move || member(b, o, level)))
                .collect();
            for h in handles {
                h.join().expect("compression thread panicked")?;
            }
            Ok(())
        })?;
        for (b, o) in bufs[..filled].iter().zip(&outs) {
            out.write_all(o)?;
            done += b.len() as u64;
        }
        on_chunk(done);
        if bufs[filled - 1].len() < CHUNK {
            break;
        }
    }
    out.flush()
}

fn member(input: &[u8], out: &mut Vec<u8>, level: u32) -> io::Result<()> {
    out.clear();
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(out, Compression::new(level));
    gz.write_all(input)?;
    gz.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_decode_to_the_input() {
        let data: Vec<u8> = (0..(CHUNK * 3 + 12345))
            .map(|i| (i % 251) as u8 ^ (i / 7) as u8)
            .collect();
        for threads in [1, 2, 3] {
            let mut out = Vec::new();
            let mut last = 0;
            compress(&data[..], &mut out, 6, threads, &mut |n| last = n).unwrap();
            assert_eq!(last, data.len() as u64);
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&out[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "threads {threads}");
        }
        let mut out = Vec::new();
        compress(&[][..], &mut out, 6, 2, &mut |_| {}).unwrap();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(!out.is_empty() && back.is_empty());
    }
}
