//! The one error type: a kind a host can match, a lowercase one-line message, where it happened
//! (function, instruction index) and the call stack that led there.

use std::fmt;
use std::sync::Arc;

/// What went wrong, for hosts that match on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A function (or closure upvalue) name that is not registered.
    NotFound,
    /// A call with the wrong number of arguments.
    Arity,
    /// A value of the wrong type (an instruction's operand, a builtin's or foreign function's
    /// argument, a failed conversion).
    Type,
    /// Integer overflow, division by zero, a shift out of range.
    Arithmetic,
    /// An index out of range: an array index, an `LD` offset.
    Bounds,
    /// A malformed function rejected when it was registered.
    Validation,
    /// The program nested calls beyond the VM's call-depth limit.
    CallDepth,
    /// A host-set limit: the instruction budget (fuel), live objects, array length.
    Limit,
    /// Another thread cancelled the run through an [`InterruptHandle`](crate::InterruptHandle).
    Interrupted,
    /// A hook callback failed.
    Hook,
    /// A foreign function failed (returned an error or panicked).
    Foreign,
    /// The program raised an error with the `error` builtin.
    Raised,
    /// Assembly text that does not assemble.
    Assembly,
    /// The VM was used in a way that cannot work, e.g. `vm.call` from inside a running foreign
    /// function on the same thread (use the context instead).
    Usage,
}

/// One frame of a call stack: the function and the index of the instruction it was running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackFrame {
    /// The function's name.
    pub function: String,
    /// The index of the instruction being executed (for a foreign function: `None`).
    pub instruction: Option<usize>,
}

impl fmt::Display for StackFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.instruction {
            Some(index) => write!(f, "`{}` at instruction {index}", self.function),
            None => write!(f, "`{}` (foreign)", self.function),
        }
    }
}

/// The error of every fallible Stoffel operation.
///
/// `Display` prints one line: the message and where it happened. `Debug` adds the whole call
/// stack, innermost frame first. [`Error::call_stack`] gives the frames.
///
/// # Examples
/// ```
/// use stoffel::{Error, ErrorKind};
/// let error: Error = "divide by zero".into();
/// assert_eq!(error.kind(), ErrorKind::Foreign);
/// assert_eq!(error.to_string(), "divide by zero");
/// ```
#[derive(Clone, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<ErrorInner>);

/// Boxed so that `Result<Value, Error>` stays two words: foreign functions and handlers return
/// it on every call, and a large error type made each return a memory copy.
#[derive(Clone, thiserror::Error)]
#[error("{}", self.render(false))]
struct ErrorInner {
    kind: ErrorKind,
    message: String,
    call_stack: Vec<StackFrame>,
    /// How many frames were active; `call_stack` keeps only the innermost ones.
    call_depth: usize,
    #[source]
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

// Two words: `Result<Value, Error>` fits in registers.
const _: () = assert!(std::mem::size_of::<Error>() == 8);

impl Error {
    /// An error of `kind` with `message` (lowercase, no final period).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(ErrorInner {
            kind,
            message: message.into(),
            call_stack: Vec::new(),
            call_depth: 0,
            source: None,
        }))
    }

    /// A foreign-function failure that keeps `source` as its cause.
    pub fn foreign(source: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error(Box::new(ErrorInner {
            kind: ErrorKind::Foreign,
            message: source.to_string(),
            call_stack: Vec::new(),
            call_depth: 0,
            source: Some(Arc::new(source)),
        }))
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message without location.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The call stack when the error happened, innermost frame first; empty for errors outside
    /// execution (validation, assembly).
    pub fn call_stack(&self) -> &[StackFrame] {
        &self.0.call_stack
    }

    /// How many frames were active when the error happened. Deeper than
    /// `call_stack().len()` when the stack was cut to its innermost frames (runaway recursion).
    pub fn call_depth(&self) -> usize {
        self.0.call_depth.max(self.0.call_stack.len())
    }

    /// The innermost frame: the function and instruction that failed.
    pub fn location(&self) -> Option<&StackFrame> {
        self.0.call_stack.first()
    }

    /// Prefixes the message with `context`, keeping kind and stack: `context: message`.
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.0.message = format!("{context}: {}", self.0.message);
        self
    }

    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.0.kind = kind;
        self
    }

    pub(crate) fn has_call_stack(&self) -> bool {
        !self.0.call_stack.is_empty()
    }

    pub(crate) fn with_call_stack(mut self, call_stack: Vec<StackFrame>) -> Error {
        if self.0.call_stack.is_empty() {
            self.0.call_stack = call_stack;
        }
        self
    }

    /// Records the full depth behind a call stack that may have been cut.
    pub(crate) fn with_call_depth(mut self, depth: usize) -> Error {
        if self.0.call_depth == 0 {
            self.0.call_depth = depth;
        }
        self
    }
}

impl fmt::Debug for ErrorInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(true))
    }
}

impl ErrorInner {
    fn render(&self, full: bool) -> String {
        let mut text = self.message.clone();
        if let Some(location) = self.call_stack.first() {
            text.push_str(&format!(" (in {location})"));
        }
        if full && self.call_stack.len() > 1 {
            text.push_str("\ncall stack, innermost first:");
            for frame in &self.call_stack {
                text.push_str(&format!("\n  {frame}"));
            }
        }
        text
    }
}

impl Error {
    // Constructors for the kinds the runtime raises; cold so the hot loop stays small.
    #[cold]
    pub(crate) fn type_error(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Type, message)
    }
    #[cold]
    pub(crate) fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }
    #[cold]
    pub(crate) fn arity(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Arity, message)
    }
    #[cold]
    pub(crate) fn arithmetic(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Arithmetic, message)
    }
    #[cold]
    pub(crate) fn bounds(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Bounds, message)
    }
    #[cold]
    pub(crate) fn validation(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Validation, message)
    }
    #[cold]
    pub(crate) fn limit(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Limit, message)
    }
}

impl From<String> for Error {
    /// A foreign-function failure with this message, so `Err(format!(..).into())` works.
    fn from(message: String) -> Error {
        Error::new(ErrorKind::Foreign, message)
    }
}

impl From<&str> for Error {
    /// A foreign-function failure with this message, so `Err("message".into())` works.
    fn from(message: &str) -> Error {
        Error::new(ErrorKind::Foreign, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static_and_clone() {
        fn assert_bounds<T: std::error::Error + Send + Sync + Clone + 'static>() {}
        assert_bounds::<Error>();
    }

    #[test]
    fn display_is_one_line_and_alternate_debug_has_the_stack() {
        let error = Error::arithmetic("arithmetic overflow in ADD").with_call_stack(vec![
            StackFrame { function: "inner".into(), instruction: Some(3) },
            StackFrame { function: "main".into(), instruction: Some(1) },
        ]);
        assert_eq!(error.to_string(), "arithmetic overflow in ADD (in `inner` at instruction 3)");
        let debug = format!("{error:?}");
        assert!(debug.contains("`main` at instruction 1"), "{debug}");
        assert_eq!(error.location().unwrap().function, "inner");
    }

    #[test]
    fn foreign_keeps_its_source() {
        let io = std::io::Error::other("disk on fire");
        let error = Error::foreign(io);
        assert_eq!(error.kind(), ErrorKind::Foreign);
        assert!(std::error::Error::source(&error).is_some());
    }
}
