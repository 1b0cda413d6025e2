//! Just enough of the zip format to read osv.dev's `all.zip` exports: the central directory,
//! stored and deflated members, CRC-checked. (No zip64, encryption or multi-disk archives.)

use std::fs;
use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, Result, bail};

fn u16_at(b: &[u8], i: usize) -> usize {
    u16::from_le_bytes([b[i], b[i + 1]]) as usize
}

fn u32_at(b: &[u8], i: usize) -> usize {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize
}

/// Every member as (name, content).
pub fn entries(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bad = |what: &str| anyhow::anyhow!("{}: not a readable zip file ({what})", path.display());
    if data.len() < 22 {
        return Err(bad("too short"));
    }
    let floor = data.len().saturating_sub(22 + 65535);
    let eocd = (floor..=data.len() - 22)
        .rev()
        .find(|&i| data[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| bad("no end of central directory"))?;
    let count = u16_at(&data, eocd + 10);
    let cd_offset = u32_at(&data, eocd + 16);
    if count == 0xFFFF || cd_offset == 0xFFFF_FFFF {
        bail!(
            "{}: zip64 archives are not supported; unpack it and pass the folder to --db",
            path.display()
        );
    }
    let mut out = Vec::with_capacity(count);
    let mut at = cd_offset;
    for _ in 0..count {
        if at + 46 > data.len() || data[at..at + 4] != [0x50, 0x4b, 0x01, 0x02] {
            return Err(bad("broken central directory"));
        }
        let method = u16_at(&data, at + 10);
        let crc = u32_at(&data, at + 16) as u32;
        let csize = u32_at(&data, at + 20);
        let usize_ = u32_at(&data, at + 24);
        let (n, e, c) = (
            u16_at(&data, at + 28),
            u16_at(&data, at + 30),
            u16_at(&data, at + 32),
        );
        let local = u32_at(&data, at + 42);
        let name = String::from_utf8_lossy(&data[at + 46..at + 46 + n]).into_owned();
        at += 46 + n + e + c;
        if name.ends_with('/') {
            continue;
        }
        if local + 30 > data.len() || data[local..local + 4] != [0x50, 0x4b, 0x03, 0x04] {
            return Err(bad("broken local header"));
        }
        let start = local + 30 + u16_at(&data, local + 26) + u16_at(&data, local + 28);
        let raw = data
            .get(start..start + csize)
            .ok_or_else(|| bad("member runs past the end"))?;
        let content = match method {
            0 => raw.to_vec(),
            8 => {
                let mut v = Vec::with_capacity(usize_);
                flate2::read::DeflateDecoder::new(raw)
                    .read_to_end(&mut v)
                    .with_context(|| format!("{}: member {name} is damaged", path.display()))?;
                v
            }
            m => bail!(
                "{}: member {name} uses compression method {m}; only stored and deflate are supported",
                path.display()
            ),
        };
        let mut check = flate2::Crc::new();
        check.update(&content);
        if check.sum() != crc || content.len() != usize_ {
            bail!(
                "{}: member {name} fails its CRC check: the download is damaged",
                path.display()
            );
        }
        out.push((name, content));
    }
    Ok(out)
}
