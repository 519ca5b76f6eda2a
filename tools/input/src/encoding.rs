//! How a part's bytes are encoded, told by its first bytes (magic numbers), not its name:
//! gzip (`1f 8b`), Parquet (`PAR1`), else plain text (CSV).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::error::InputError;

/// The encodings an input part may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Plain text (CSV).
    Csv,
    /// gzip-compressed text (Azure's `compressionMode: Gzip` for CSV exports).
    GzipCsv,
    /// Apache Parquet (`PAR1` at the start of the file).
    Parquet,
}

/// gzip's magic number (RFC 1952).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Parquet's magic number, at the start and the end of every Parquet file.
pub const PARQUET_MAGIC: [u8; 4] = *b"PAR1";

impl Encoding {
    /// The encoding the first bytes of a file show.
    pub fn of_magic(first: &[u8]) -> Encoding {
        if first.starts_with(&GZIP_MAGIC) {
            Encoding::GzipCsv
        } else if first.starts_with(&PARQUET_MAGIC) {
            Encoding::Parquet
        } else {
            Encoding::Csv
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Csv => "CSV",
            Encoding::GzipCsv => "gzip CSV",
            Encoding::Parquet => "Parquet",
        }
    }
}

/// Read up to `buf.len()` bytes, fewer only at the end of the input.
pub(crate) fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The encoding of the file at `path`, from its first bytes.
pub fn detect_encoding(path: &Path) -> Result<Encoding, InputError> {
    let cannot_read = |e: &io::Error| InputError::io(path, "cannot read", e);
    let mut file = File::open(path).map_err(|e| cannot_read(&e))?;
    let mut first = [0u8; 4];
    let got = read_up_to(&mut file, &mut first).map_err(|e| cannot_read(&e))?;
    Ok(Encoding::of_magic(&first[..got]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_tell_the_encoding() {
        assert_eq!(Encoding::of_magic(&[0x1f, 0x8b, 8, 0]), Encoding::GzipCsv);
        assert_eq!(Encoding::of_magic(b"PAR1\x15\x04"), Encoding::Parquet);
        assert_eq!(Encoding::of_magic(b"BilledCost,"), Encoding::Csv);
        assert_eq!(Encoding::of_magic(&[0x1f]), Encoding::Csv);
        assert_eq!(Encoding::of_magic(b""), Encoding::Csv);
    }
}
