//! A text being parsed with the start of each line, so parse errors can name the line of a
//! byte offset (agreement files, what-if scenarios).

use std::path::Path;

/// A file's text and its line starts.
pub(crate) struct Source<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Source<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Source {
            file,
            text,
            line_starts,
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line(&self, offset: usize) -> u64 {
        self.line_starts.partition_point(|&start| start <= offset) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_their_lines() {
        let s = Source::new(Path::new("x.toml"), "a = 1\nb = 2\n\nc = 3");
        assert_eq!(
            (s.line(0), s.line(5), s.line(6), s.line(12), s.line(13)),
            (1, 1, 2, 3, 4)
        );
    }
}
