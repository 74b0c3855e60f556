//! The one error type of every reloop crate: a small kind plus a message
//! naming the field, item or byte offset at fault.

use std::fmt;

/// What went wrong, in a form callers can branch on.
///
/// Each kind has a stable string code (see [`ErrorKind::code`]) that the
/// JavaScript binding puts on the thrown `Error` as `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration value is out of range or inconsistent.
    InvalidConfig,
    /// A call argument (vector, label, item) is malformed.
    InvalidInput,
    /// The model could not be loaded, optimised or run.
    Model,
    /// Saved bytes fail validation (truncated, flipped, absurd sizes).
    CorruptData,
    /// Saved bytes use a format version this build does not read.
    UnsupportedVersion,
    /// Saved bytes were written for another model or another memory layout.
    ModelMismatch,
}

impl ErrorKind {
    /// Stable code for programmatic handling (`E_INVALID_INPUT`, ...).
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidConfig => "E_INVALID_CONFIG",
            ErrorKind::InvalidInput => "E_INVALID_INPUT",
            ErrorKind::Model => "E_MODEL",
            ErrorKind::CorruptData => "E_CORRUPT_MEMORY",
            ErrorKind::UnsupportedVersion => "E_UNSUPPORTED_VERSION",
            ErrorKind::ModelMismatch => "E_MODEL_MISMATCH",
        }
    }
}

/// Error returned by every fallible operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// Builds an error of `kind` with a message naming what is at fault.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }

    /// An [`ErrorKind::InvalidConfig`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidConfig, message)
    }

    /// An [`ErrorKind::InvalidInput`] error.
    pub fn input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// An [`ErrorKind::Model`] error.
    pub fn model(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Model, message)
    }

    /// An [`ErrorKind::CorruptData`] error.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::CorruptData, message)
    }

    /// The same error with `context` in front of its message
    /// (`"item 3: field `year` must be a number"`), kind unchanged.
    #[must_use]
    pub fn with_context(self, context: impl fmt::Display) -> Self {
        Error { kind: self.kind, message: format!("{context}: {}", self.message) }
    }

    /// The same message under another kind (e.g. a config check that,
    /// applied to saved bytes, means the bytes are corrupt).
    #[must_use]
    pub fn with_kind(self, kind: ErrorKind) -> Self {
        Error { kind, message: self.message }
    }

    /// The kind, for matching.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code of the kind (`E_CORRUPT_MEMORY`, ...).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The human-readable message, without the code.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Error {}

/// Result alias used across the crates.
pub type Result<T> = std::result::Result<T, Error>;

/// Rejects NaN and infinities, naming the value.
pub(crate) fn check_finite(name: &str, value: f32) -> Result<()> {
    if value.is_finite() { Ok(()) } else { Err(Error::input(format!("{name} must be finite, got {value}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_prefixed_and_the_kind_kept() {
        let e = Error::input("field `year` must be a number").with_context("item 3");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.message(), "item 3: field `year` must be a number");
        assert_eq!(e.to_string(), "E_INVALID_INPUT: item 3: field `year` must be a number");
        assert_eq!(e.with_kind(ErrorKind::CorruptData).code(), "E_CORRUPT_MEMORY");
    }
}
