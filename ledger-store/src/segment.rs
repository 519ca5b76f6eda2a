//! Segment files: the bodies of line chunks, outside sled.
//!
//! sled holds small records only. A line chunk's body (what a kind-3 `LineChunk` record's
//! payload would be) is appended to a segment file under `DIR/segments/`, and the log holds a
//! small kind-8 `ChunkRef` record naming where the body is and its blake3 hash, so the hash
//! chain covers every line. The appender plans each body's place ([`SegmentCursor`]), so a
//! record's bytes (and its hash) are known before anything is written; the store writes the
//! bodies at exactly those places, fsyncs the segment, and only then applies the sled batch
//! that references them.
//!
//! A segment file is `segments/NNNNNNNN.seg` (the segment number, 8 decimal digits):
//!
//! ```text
//! [magic "LSEG" 4 bytes][format u8 = 1][3 zero bytes]          (header, 8 bytes)
//! then frames, back to back:
//! [body length u32 LE][blake3 of body 32 bytes][body]           (one per chunk)
//! ```
//!
//! A file grows to about [`SEGMENT_SOFT_BYTES`]; the next frame that would pass it opens the
//! next number. The frame's own hash lets a file be checked without the log; reading checks
//! the body against the hash in the referencing record (the chained one). Bytes after the
//! last referenced frame (a crash between the segment write and the sled batch) are never
//! referenced: [`SegmentWriter::open`] cuts them off, so re-running the same ingest writes
//! the same frames again.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// Where segment files live, under the ledger directory.
pub const SEGMENTS_DIR: &str = "segments";
/// A segment file closes before a frame would take it past this many bytes.
pub const SEGMENT_SOFT_BYTES: u64 = 256 << 20;
/// Bytes of a segment file's header.
pub const SEGMENT_HEADER_BYTES: u64 = 8;
/// Bytes before a frame's body: its length and its hash.
pub const FRAME_HEADER_BYTES: u64 = 4 + 32;
/// The largest body a frame may hold (a chunk's body stays far below).
pub const MAX_FRAME_BODY: u32 = 16 << 20;
/// The header every segment file starts with.
const MAGIC: [u8; 8] = *b"LSEG\x01\0\0\0";
/// Bytes a reader fetches at once when the next frame is not in its window.
const READ_WINDOW: usize = 256 << 10;

/// Where one chunk's frame is: segment number, offset of the frame, and the body's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkLocation {
    pub segment: u32,
    pub offset: u64,
    pub len: u32,
}

impl ChunkLocation {
    /// The offset just past this frame.
    pub fn end(&self) -> u64 {
        self.offset + FRAME_HEADER_BYTES + self.len as u64
    }
}

/// The end of what the log references: the next frame goes to `segment` at `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentCursor {
    pub segment: u32,
    pub end: u64,
}

impl SegmentCursor {
    /// The cursor of a ledger without segments.
    pub const EMPTY: SegmentCursor = SegmentCursor {
        segment: 0,
        end: SEGMENT_HEADER_BYTES,
    };

    /// Place a frame of a `len`-byte body: in the current segment, or at the start of the
    /// next one if it would pass [`SEGMENT_SOFT_BYTES`]. Advances the cursor.
    pub fn place(&mut self, len: u32) -> ChunkLocation {
        let frame = FRAME_HEADER_BYTES + len as u64;
        if self.end > SEGMENT_HEADER_BYTES && self.end + frame > SEGMENT_SOFT_BYTES {
            self.segment += 1;
            self.end = SEGMENT_HEADER_BYTES;
        }
        let location = ChunkLocation {
            segment: self.segment,
            offset: self.end,
            len,
        };
        self.end = location.end();
        location
    }

    /// The cursor as stored in the log's meta key: segment `u32` BE, end `u64` BE.
    pub(crate) fn encode(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..4].copy_from_slice(&self.segment.to_be_bytes());
        out[4..].copy_from_slice(&self.end.to_be_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<SegmentCursor> {
        let bytes: &[u8; 12] = bytes.try_into().ok()?;
        let cursor = SegmentCursor {
            segment: u32::from_be_bytes(bytes[..4].try_into().ok()?),
            end: u64::from_be_bytes(bytes[4..].try_into().ok()?),
        };
        (cursor.end >= SEGMENT_HEADER_BYTES).then_some(cursor)
    }
}

impl Default for SegmentCursor {
    fn default() -> Self {
        SegmentCursor::EMPTY
    }
}

/// A body's frame: `[len u32 LE][hash 32][body]`.
pub(crate) fn frame(body: &[u8], hash: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_BYTES as usize + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(hash);
    out.extend_from_slice(body);
    out
}

/// The path of segment `number` under the ledger directory `dir`.
pub fn segment_path(dir: &Path, number: u32) -> PathBuf {
    dir.join(SEGMENTS_DIR).join(format!("{number:08}.seg"))
}

/// The segment numbers present in `dir/segments/`, ascending.
fn segment_numbers(dir: &Path) -> Result<Vec<u32>, StoreError> {
    let folder = dir.join(SEGMENTS_DIR);
    let entries = match fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&folder, e)),
    };
    let mut numbers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(&folder, e))?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_suffix(".seg"))
            .filter(|n| n.len() == 8)
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(number) = number {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// The store's appending end: the current segment file, at the committed cursor.
pub(crate) struct SegmentWriter {
    dir: PathBuf,
    /// What the log references (the meta key as last applied).
    committed: SegmentCursor,
    /// The open file of `committed.segment` (or of a later one while a batch writes).
    file: Option<(u32, File)>,
    /// The cursor after the frames written but not yet committed.
    written: SegmentCursor,
}

impl SegmentWriter {
    /// The writer of the ledger at `dir` whose log references up to `committed`: bytes after
    /// it (frames of a batch that never reached the log) are cut off and later segment files
    /// removed.
    pub(crate) fn open(dir: &Path, committed: SegmentCursor) -> Result<SegmentWriter, StoreError> {
        for number in segment_numbers(dir)? {
            let path = segment_path(dir, number);
            if number > committed.segment {
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            } else if number == committed.segment {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| StoreError::io(&path, e))?;
                let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
                if len > committed.end {
                    file.set_len(committed.end)
                        .map_err(|e| StoreError::io(&path, e))?;
                    file.sync_all().map_err(|e| StoreError::io(&path, e))?;
                }
            }
        }
        Ok(SegmentWriter {
            dir: dir.to_path_buf(),
            committed,
            file: None,
            written: committed,
        })
    }

    /// The cursor the next batch's frames start at.
    pub(crate) fn committed(&self) -> SegmentCursor {
        self.committed
    }

    /// Write one frame at `location`, which must be where the last frame written ends (or
    /// the start of the next segment).
    pub(crate) fn write(
        &mut self,
        location: ChunkLocation,
        frame: &[u8],
    ) -> Result<(), StoreError> {
        let expected = {
            let mut next = self.written;
            next.place(location.len)
        };
        if location != expected {
            return Err(StoreError::encode(
                format!(
                    "a line chunk at segment {} offset {}",
                    location.segment, location.offset
                ),
                format!(
                    "the segments end at segment {} offset {}",
                    self.written.segment, self.written.end
                ),
            ));
        }
        let path = segment_path(&self.dir, location.segment);
        let file = self.file_for(location.segment)?;
        file.write_all_at(frame, location.offset)
            .map_err(|e| StoreError::io(&path, e))?;
        self.written = SegmentCursor {
            segment: location.segment,
            end: location.end(),
        };
        Ok(())
    }

    /// The open file of segment `number`, created with its header if new; an earlier open
    /// file is made durable and closed first.
    fn file_for(&mut self, number: u32) -> Result<&File, StoreError> {
        if self.file.as_ref().is_some_and(|(n, _)| *n != number) {
            self.sync()?;
            self.file = None;
        }
        if self.file.is_none() {
            let folder = self.dir.join(SEGMENTS_DIR);
            fs::create_dir_all(&folder).map_err(|e| StoreError::io(&folder, e))?;
            let path = segment_path(&self.dir, number);
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| StoreError::io(&path, e))?;
            let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
            if len < SEGMENT_HEADER_BYTES {
                file.write_all_at(&MAGIC, 0)
                    .map_err(|e| StoreError::io(&path, e))?;
                // The new file's name must survive a power loss too.
                if let Ok(folder) = File::open(&folder) {
                    let _ = folder.sync_all();
                }
            }
            self.file = Some((number, file));
        }
        Ok(&self.file.as_ref().expect("just opened").1)
    }

    /// Make every frame written durable (before the batch that references them).
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        if let Some((number, file)) = &self.file {
            file.sync_data()
                .map_err(|e| StoreError::io(segment_path(&self.dir, *number), e))?;
        }
        Ok(())
    }

    /// The batch referencing the frames written is applied: they are committed.
    pub(crate) fn commit(&mut self) -> SegmentCursor {
        self.committed = self.written;
        self.committed
    }

    /// The batch was not applied: forget (and cut off) the frames written since the commit.
    pub(crate) fn roll_back(&mut self) {
        self.file = None;
        self.written = self.committed;
        // Best effort: a later open cuts them off in any case.
        let _ = SegmentWriter::open(&self.dir, self.committed).map(|w| *self = w);
    }

    /// Whether frames were written since the last commit.
    pub(crate) fn has_uncommitted(&self) -> bool {
        self.written != self.committed
    }
}

/// Reads frames back one at a time through a bounded window (never a whole file).
pub(crate) struct SegmentReader {
    dir: PathBuf,
    file: Option<(u32, File)>,
    /// Bytes of the current file from `window_start`.
    window: Vec<u8>,
    window_start: u64,
}

impl SegmentReader {
    pub(crate) fn new(dir: &Path) -> SegmentReader {
        SegmentReader {
            dir: dir.to_path_buf(),
            file: None,
            window: Vec::new(),
            window_start: 0,
        }
    }

    /// The body of the frame at `location`, checked against `hash` (the one the log holds);
    /// `seq` is the referencing record, for messages.
    pub(crate) fn read(
        &mut self,
        location: ChunkLocation,
        hash: &[u8; 32],
        seq: u64,
    ) -> Result<&[u8], StoreError> {
        let path = segment_path(&self.dir, location.segment);
        let fail = |message: String| StoreError::Segment {
            path: path.clone(),
            offset: location.offset,
            seq,
            message,
        };
        if location.len > MAX_FRAME_BODY {
            return Err(fail(format!(
                "the record names a {}-byte chunk; at most {MAX_FRAME_BODY}",
                location.len
            )));
        }
        let frame_len = FRAME_HEADER_BYTES as usize + location.len as usize;
        self.fill(location.segment, location.offset, frame_len)
            .map_err(|e| fail(e.to_string()))?;
        let start = (location.offset - self.window_start) as usize;
        let frame = &self.window[start..start + frame_len];
        let stored_len = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes"));
        if stored_len != location.len {
            return Err(fail(format!(
                "the frame holds {stored_len} bytes, the record says {}",
                location.len
            )));
        }
        let body = &frame[FRAME_HEADER_BYTES as usize..];
        if blake3::hash(body).as_bytes() != hash {
            return Err(fail(
                "the chunk's bytes do not hash to the hash its record holds: the segment file was altered or damaged".into(),
            ));
        }
        if &frame[4..36] != hash {
            return Err(fail(
                "the frame's own hash is not the one its record holds".into(),
            ));
        }
        Ok(body)
    }

    /// Make `[offset, offset + len)` of segment `number` part of the window.
    fn fill(&mut self, number: u32, offset: u64, len: usize) -> std::io::Result<()> {
        let same_file = self.file.as_ref().is_some_and(|(n, _)| *n == number);
        let window_end = self.window_start + self.window.len() as u64;
        if same_file && offset >= self.window_start && offset + len as u64 <= window_end {
            return Ok(());
        }
        if !same_file {
            self.file = Some((number, File::open(segment_path(&self.dir, number))?));
        }
        let file = &self.file.as_ref().expect("just opened").1;
        let want = len.max(READ_WINDOW);
        self.window.clear();
        self.window.resize(want, 0);
        let mut got = 0;
        while got < want {
            match file.read_at(&mut self.window[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.window.truncate(got);
        self.window_start = offset;
        if got < len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the file ends {} bytes into a {len}-byte frame", got),
            ));
        }
        Ok(())
    }
}

/// Write `frame`s at once for tests (a segment written by hand).
#[cfg(test)]
fn write_frames(dir: &Path, bodies: &[&[u8]]) -> (SegmentWriter, Vec<(ChunkLocation, [u8; 32])>) {
    let mut writer = SegmentWriter::open(dir, SegmentCursor::EMPTY).unwrap();
    let mut cursor = writer.committed();
    let mut placed = Vec::new();
    for body in bodies {
        let hash = *blake3::hash(body).as_bytes();
        let location = cursor.place(body.len() as u32);
        writer.write(location, &frame(body, &hash)).unwrap();
        placed.push((location, hash));
    }
    writer.sync().unwrap();
    (writer, placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies() -> Vec<Vec<u8>> {
        (0..50u32)
            .map(|i| {
                (0..(i * 997 % 5000 + 1))
                    .map(|b| (b * 31 + i) as u8)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn frames_round_trip_through_a_bounded_window() {
        let dir = tempfile::tempdir().unwrap();
        let bodies = bodies();
        let refs: Vec<&[u8]> = bodies.iter().map(|b| b.as_slice()).collect();
        let (mut writer, placed) = write_frames(dir.path(), &refs);
        writer.commit();
        let mut reader = SegmentReader::new(dir.path());
        // In order, then backwards (every read refills the window).
        for (i, (location, hash)) in placed.iter().enumerate() {
            assert_eq!(reader.read(*location, hash, i as u64).unwrap(), refs[i]);
            assert!(reader.window.len() <= READ_WINDOW.max(location.len as usize + 36));
        }
        for (i, (location, hash)) in placed.iter().enumerate().rev() {
            assert_eq!(reader.read(*location, hash, i as u64).unwrap(), refs[i]);
        }
        let file_len = fs::metadata(segment_path(dir.path(), 0)).unwrap().len();
        assert_eq!(file_len, placed.last().unwrap().0.end());
    }

    #[test]
    fn a_corrupted_byte_is_detected_naming_the_segment_offset_and_record() {
        let dir = tempfile::tempdir().unwrap();
        let bodies = bodies();
        let refs: Vec<&[u8]> = bodies.iter().map(|b| b.as_slice()).collect();
        let (_writer, placed) = write_frames(dir.path(), &refs);
        let (location, hash) = placed[7];
        let path = segment_path(dir.path(), 0);
        let mut bytes = fs::read(&path).unwrap();
        bytes[location.offset as usize + 36 + location.len as usize / 2] ^= 0x10;
        fs::write(&path, &bytes).unwrap();
        let mut reader = SegmentReader::new(dir.path());
        assert!(reader.read(placed[6].0, &placed[6].1, 6).is_ok());
        let err = reader.read(location, &hash, 4242).unwrap_err();
        match &err {
            StoreError::Segment {
                path: p,
                offset,
                seq,
                ..
            } => {
                assert_eq!((p, *offset, *seq), (&path, location.offset, 4242));
            }
            other => panic!("expected a segment error, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("00000000.seg") && message.contains("4242"),
            "{message}"
        );
        // A wrong length in the frame is caught too.
        bytes[location.offset as usize] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        assert!(SegmentReader::new(dir.path())
            .read(location, &hash, 1)
            .is_err());
    }

    #[test]
    fn a_torn_tail_is_ignored_and_cut_off_and_the_same_frames_are_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let bodies = bodies();
        let refs: Vec<&[u8]> = bodies.iter().map(|b| b.as_slice()).collect();
        let (mut writer, placed) = write_frames(dir.path(), &refs[..10]);
        let committed = writer.commit();
        // A batch whose frames were written (one of them torn) but never referenced.
        let mut cursor = committed;
        for body in &refs[10..13] {
            let hash = *blake3::hash(body).as_bytes();
            let location = cursor.place(body.len() as u32);
            writer.write(location, &frame(body, &hash)).unwrap();
        }
        drop(writer);
        let path = segment_path(dir.path(), 0);
        let torn = fs::metadata(&path).unwrap().len() - 5;
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(torn)
            .unwrap();
        // A later segment file of the lost batch goes too.
        fs::write(segment_path(dir.path(), 1), MAGIC).unwrap();

        let mut writer = SegmentWriter::open(dir.path(), committed).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), committed.end);
        assert!(!segment_path(dir.path(), 1).exists());
        let mut reader = SegmentReader::new(dir.path());
        for (i, (location, hash)) in placed.iter().enumerate() {
            assert_eq!(reader.read(*location, hash, 0).unwrap(), refs[i]);
        }
        // Re-running writes the same frames at the same places.
        let mut cursor = writer.committed();
        let body = refs[10];
        let hash = *blake3::hash(body).as_bytes();
        let location = cursor.place(body.len() as u32);
        assert_eq!(location.offset, committed.end);
        writer.write(location, &frame(body, &hash)).unwrap();
        writer.sync().unwrap();
        writer.commit();
        assert_eq!(reader.read(location, &hash, 0).unwrap(), body);
    }

    #[test]
    fn a_frame_that_would_pass_the_soft_limit_opens_the_next_segment() {
        let mut cursor = SegmentCursor {
            segment: 3,
            end: SEGMENT_SOFT_BYTES - 100,
        };
        let a = cursor.place(10);
        assert_eq!((a.segment, a.offset), (3, SEGMENT_SOFT_BYTES - 100));
        let b = cursor.place(100);
        assert_eq!((b.segment, b.offset), (4, SEGMENT_HEADER_BYTES));
        assert_eq!(SegmentCursor::decode(&cursor.encode()), Some(cursor));
        // A writer refuses a frame that does not continue the segments.
        let dir = tempfile::tempdir().unwrap();
        let mut writer = SegmentWriter::open(dir.path(), SegmentCursor::EMPTY).unwrap();
        let wrong = ChunkLocation {
            segment: 0,
            offset: 100,
            len: 1,
        };
        assert!(writer.write(wrong, &frame(b"x", &[0; 32])).is_err());
    }
}
