//! A refused input: which file, where in it, what was found and what was expected.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why an input file was refused. Displayed as
/// `charges.csv:12: column 6 (amount): '12,50' is not a decimal amount (expected ...)` or
/// `agreement.toml:9: macc "macc-2025" end: 2024-04-30 is before its start 2025-05-01`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The file as the user named it.
    pub file: PathBuf,
    /// 1-based line, when known (in a Parquet file, the 1-based data row).
    pub line: Option<u64>,
    /// 1-based column number and its header name (CSV inputs).
    pub column: Option<(usize, String)>,
    /// The field at fault when there is no column, e.g. `macc "macc-2025" end`.
    pub field: Option<String>,
    /// What was found and what was expected.
    pub message: String,
}

impl InputError {
    /// An error about the file as a whole.
    pub fn new(file: &Path, message: impl Into<String>) -> InputError {
        InputError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    /// An I/O failure, e.g. `agreement.toml: cannot read: No such file or directory`.
    pub fn io(file: &Path, doing: &str, error: &io::Error) -> InputError {
        InputError::new(file, format!("{doing}: {}", io_message(error)))
    }

    /// At a 1-based line.
    pub fn at_line(mut self, line: u64) -> InputError {
        self.line = Some(line);
        self
    }

    /// At a line when one is known.
    pub fn at_line_opt(mut self, line: Option<u64>) -> InputError {
        self.line = line;
        self
    }

    /// In a CSV column: its 1-based number and its header name.
    pub fn in_column(mut self, number: usize, name: impl Into<String>) -> InputError {
        self.column = Some((number, name.into()));
        self
    }

    /// In a named field (agreement keys, or a CSV column that is absent from the header).
    pub fn in_field(mut self, field: impl Into<String>) -> InputError {
        self.field = Some(field.into());
        self
    }
}

/// The operating system's words for an I/O error, without the `(os error N)` suffix.
fn io_message(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some((number, name)) = &self.column {
            write!(f, "column {number} ({name}): ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_line_column_and_message() {
        let e = InputError::new(Path::new("charges.csv"), "'12,50' is not a decimal amount")
            .at_line(12)
            .in_column(6, "amount");
        assert_eq!(
            e.to_string(),
            "charges.csv:12: column 6 (amount): '12,50' is not a decimal amount"
        );
        let e = InputError::new(Path::new("agreement.toml"), "is before its start")
            .at_line(9)
            .in_field("macc \"m\" end");
        assert_eq!(
            e.to_string(),
            "agreement.toml:9: macc \"m\" end: is before its start"
        );
    }

    #[test]
    fn io_errors_drop_the_os_error_number() {
        let error = io::Error::from_raw_os_error(2);
        let e = InputError::io(Path::new("agreement.toml"), "cannot read", &error);
        assert_eq!(
            e.to_string(),
            "agreement.toml: cannot read: No such file or directory"
        );
    }
}
