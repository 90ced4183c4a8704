//! `FromValue` / `IntoValue`: conversions between VM values and Rust types, used by
//! `#[foreign_fn]`, `register_fn` and host code. A failed conversion names the expected and the
//! actual type, and (through `from_arg`) the argument position and the callee.

use std::sync::Arc;

use crate::closure::Closure;
use crate::error::Error;
use crate::value::{ArrayRef, ForeignRef, ObjectRef, Str, Value};

/// Converts a VM value into a Rust value, borrowing from it where possible (`&str`).
///
/// Implement [`from_value`](FromValue::from_value) for your own types; the error should say
/// `expected X, found Y` (see [`FromValue::mismatch`]).
///
/// # Examples
/// ```
/// use stoffel::{FromValue, Value};
/// assert_eq!(i64::from_value(&Value::Int(7)).unwrap(), 7);
/// let text = Value::from("hi");
/// let borrowed: &str = <&str>::from_value(&text).unwrap();
/// assert_eq!(borrowed, "hi");
/// assert_eq!(
///     i64::from_value(&Value::from("x")).unwrap_err().to_string(),
///     "expected int, found string"
/// );
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be converted from a VM value",
    label = "this type has no `FromValue` implementation",
    note = "implement `stoffel::FromValue<'_>` for `{Self}`, or take a `stoffel::Value` and convert it yourself"
)]
pub trait FromValue<'a>: Sized {
    /// The type name used in `expected ...` messages.
    const EXPECTED: &'static str;

    /// Converts `value`.
    ///
    /// # Errors
    /// A type error `expected X, found Y` when `value` does not hold this type.
    fn from_value(value: &'a Value) -> Result<Self, Error>;

    /// Converts argument `position` (1-based) of `callee`, naming both on failure:
    /// `` argument 2 of `add`: expected int, found string ``.
    #[doc(hidden)]
    #[inline]
    fn from_arg(value: &'a Value, position: usize, callee: &str) -> Result<Self, Error> {
        // The message is built out of line: with it inline this was a call per argument of
        // every foreign call (callgrind, foreign case).
        match Self::from_value(value) {
            Ok(converted) => Ok(converted),
            Err(error) => Err(argument_context(error, position, callee)),
        }
    }

    /// The value of an omitted trailing argument: `Some(None)` for `Option<T>`, else `None`
    /// (the argument is required).
    #[doc(hidden)]
    fn missing() -> Option<Self> {
        None
    }

    /// The standard mismatch error: `expected {EXPECTED}, found {type of value}`.
    #[cold]
    fn mismatch(value: &Value) -> Error {
        Error::type_error(format!("expected {}, found {}", Self::EXPECTED, value.type_name()))
    }
}

/// Names the argument and the callee in a conversion error.
#[cold]
#[inline(never)]
fn argument_context(error: Error, position: usize, callee: &str) -> Error {
    error.context(format!("argument {position} of `{callee}`"))
}

/// Converts a Rust value into a VM value.
///
/// # Examples
/// ```
/// use stoffel::{IntoValue, Value};
/// assert_eq!(42i64.into_value(), Value::Int(42));
/// assert_eq!(Some("x").into_value(), Value::from("x"));
/// assert_eq!(None::<i64>.into_value(), Value::Unit);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be converted into a VM value",
    label = "this type has no `IntoValue` implementation",
    note = "implement `stoffel::IntoValue` for `{Self}`, or convert it to a `stoffel::Value`"
)]
pub trait IntoValue {
    /// Converts `self`.
    fn into_value(self) -> Value;
}

/// What a foreign function may return: any [`IntoValue`] type, or a `Result` whose error
/// displays (it becomes the VM error's message).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned to the VM",
    label = "a foreign function must return a type implementing `IntoValue`, or `Result<T: IntoValue, E: Display>`",
    note = "implement `stoffel::IntoValue` for the returned type"
)]
pub trait IntoResult {
    /// Converts `self` into the VM's result.
    ///
    /// # Errors
    /// The `Err` of a `Result` return, as a foreign-function error.
    fn into_result(self) -> Result<Value, Error>;
}

impl<T: IntoValue> IntoResult for T {
    fn into_result(self) -> Result<Value, Error> {
        Ok(self.into_value())
    }
}

impl<T: IntoValue, E: std::fmt::Display + 'static> IntoResult for Result<T, E> {
    /// `Ok` converts; `Err` becomes a foreign-function error with the error's message — except
    /// a `stoffel::Error` (from `ctx.call(..)?`), which passes through with its kind and stack.
    fn into_result(self) -> Result<Value, Error> {
        self.map(IntoValue::into_value).map_err(|error| {
            match (&error as &dyn std::any::Any).downcast_ref::<Error>() {
                Some(vm_error) => vm_error.clone(),
                None => Error::from(error.to_string()),
            }
        })
    }
}

impl FromValue<'_> for Value {
    const EXPECTED: &'static str = "any value";
    fn from_value(value: &Value) -> Result<Value, Error> {
        Ok(value.clone())
    }
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

macro_rules! int_conversions {
    ($($ty:ty),*) => {$(
        impl FromValue<'_> for $ty {
            const EXPECTED: &'static str = "int";
            #[inline]
            fn from_value(value: &Value) -> Result<$ty, Error> {
                match value {
                    Value::Int(i) => <$ty>::try_from(*i).map_err(|_| {
                        Error::type_error(format!("int {i} does not fit in {}", stringify!($ty)))
                    }),
                    other => Err(Self::mismatch(other)),
                }
            }
        }
    )*};
}
int_conversions!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! int_into_value {
    // Lossless widenings.
    (exact: $($ty:ty),*) => {$(
        impl IntoValue for $ty {
            fn into_value(self) -> Value { Value::Int(i64::from(self)) }
        }
    )*};
    // Values beyond i64 become floats (rounded), as Lua does with large numbers.
    (wide: $($ty:ty),*) => {$(
        impl IntoValue for $ty {
            fn into_value(self) -> Value {
                i64::try_from(self).map(Value::Int).unwrap_or(Value::Float(self as f64))
            }
        }
    )*};
}
int_into_value!(exact: i8, i16, i32, i64, u8, u16, u32);
int_into_value!(wide: isize, u64, usize);

impl FromValue<'_> for f64 {
    const EXPECTED: &'static str = "float";
    /// Ints convert to floats too, as in arithmetic.
    fn from_value(value: &Value) -> Result<f64, Error> {
        match value {
            Value::Float(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(Self::mismatch(other)),
        }
    }
}

impl IntoValue for f64 {
    fn into_value(self) -> Value {
        Value::Float(self)
    }
}

impl IntoValue for f32 {
    fn into_value(self) -> Value {
        Value::Float(self.into())
    }
}

impl FromValue<'_> for bool {
    const EXPECTED: &'static str = "bool";
    fn from_value(value: &Value) -> Result<bool, Error> {
        match value {
            Value::Bool(b) => Ok(*b),
            other => Err(Self::mismatch(other)),
        }
    }
}

impl IntoValue for bool {
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
}

impl<'a> FromValue<'a> for &'a str {
    const EXPECTED: &'static str = "string";
    fn from_value(value: &'a Value) -> Result<&'a str, Error> {
        match value {
            Value::String(s) => Ok(s.as_str()),
            other => Err(Self::mismatch(other)),
        }
    }
}

impl FromValue<'_> for String {
    const EXPECTED: &'static str = "string";
    fn from_value(value: &Value) -> Result<String, Error> {
        <&str>::from_value(value).map(str::to_owned)
    }
}

impl FromValue<'_> for Str {
    const EXPECTED: &'static str = "string";
    fn from_value(value: &Value) -> Result<Str, Error> {
        match value {
            Value::String(s) => Ok(s.clone()),
            other => Err(Self::mismatch(other)),
        }
    }
}

impl IntoValue for &str {
    fn into_value(self) -> Value {
        Value::from(self)
    }
}

impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::from(self)
    }
}

impl IntoValue for Str {
    fn into_value(self) -> Value {
        Value::String(self)
    }
}

impl FromValue<'_> for () {
    const EXPECTED: &'static str = "unit";
    fn from_value(value: &Value) -> Result<(), Error> {
        match value {
            Value::Unit => Ok(()),
            other => Err(Self::mismatch(other)),
        }
    }
}

impl IntoValue for () {
    fn into_value(self) -> Value {
        Value::Unit
    }
}

impl<'a, T: FromValue<'a>> FromValue<'a> for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    /// Unit is `None`; anything else converts as `T`.
    fn from_value(value: &'a Value) -> Result<Option<T>, Error> {
        match value {
            Value::Unit => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }

    fn missing() -> Option<Option<T>> {
        Some(None)
    }
}

impl<T: IntoValue> IntoValue for Option<T> {
    fn into_value(self) -> Value {
        self.map_or(Value::Unit, IntoValue::into_value)
    }
}

impl<T: for<'b> FromValue<'b>> FromValue<'_> for Vec<T> {
    const EXPECTED: &'static str = "array";
    /// Copies the elements of a VM array; an element of the wrong type names its index.
    fn from_value(value: &Value) -> Result<Vec<T>, Error> {
        let Value::Array(array) = value else {
            return Err(Self::mismatch(value));
        };
        array.with_elements(|elements| {
            elements
                .iter()
                .enumerate()
                .map(|(index, element)| {
                    T::from_value(element).map_err(|e| e.context(format!("element {index}")))
                })
                .collect()
        })
    }
}

impl<T: IntoValue> IntoValue for Vec<T> {
    /// A new VM array. It is counted by a store of its own: arrays made by host code outside a
    /// VM are not charged to any VM's live-object cap.
    fn into_value(self) -> Value {
        let elements = self.into_iter().map(IntoValue::into_value).collect();
        Value::Array(ArrayRef::new(elements, crate::object_store::detached_token()))
    }
}

macro_rules! handle_conversions {
    ($($ty:ty => $variant:ident, $name:literal;)*) => {$(
        impl FromValue<'_> for $ty {
            const EXPECTED: &'static str = $name;
            fn from_value(value: &Value) -> Result<$ty, Error> {
                match value {
                    Value::$variant(handle) => Ok(handle.clone()),
                    other => Err(Self::mismatch(other)),
                }
            }
        }
        impl IntoValue for $ty {
            fn into_value(self) -> Value { Value::$variant(self) }
        }
    )*};
}
handle_conversions! {
    ObjectRef => Object, "object";
    ArrayRef => Array, "array";
    ForeignRef => Foreign, "foreign";
    Arc<Closure> => Closure, "closure";
}

/// Argument `index` (0-based) of `callee`, converted; a left-out argument is `T::missing()`
/// (an omitted trailing `Option`) or an arity error. Shared by foreign contexts and builtins.
#[inline]
pub(crate) fn argument<'a, T: FromValue<'a>>(
    args: &'a [Value],
    index: usize,
    callee: &str,
) -> Result<T, Error> {
    match args.get(index) {
        Some(value) => T::from_arg(value, index + 1, callee),
        None => T::missing().ok_or_else(|| {
            Error::arity(format!(
                "`{callee}` needs argument {}, but {}",
                index + 1,
                crate::foreign::given(args.len())
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        assert_eq!(u8::from_value(&Value::Int(255)).unwrap(), 255);
        assert!(u8::from_value(&Value::Int(256)).unwrap_err().to_string().contains("does not fit"));
        assert_eq!(f64::from_value(&Value::Int(2)).unwrap(), 2.0);
        assert_eq!(Option::<i64>::from_value(&Value::Unit).unwrap(), None);
        assert_eq!(Option::<i64>::from_value(&Value::Int(1)).unwrap(), Some(1));
        assert_eq!(u64::MAX.into_value(), Value::Float(u64::MAX as f64));
        let array = vec![1i64, 2, 3].into_value();
        assert_eq!(Vec::<i64>::from_value(&array).unwrap(), vec![1, 2, 3]);
        let mixed = vec![Value::Int(1), Value::from("x")].into_value();
        assert_eq!(
            Vec::<i64>::from_value(&mixed).unwrap_err().to_string(),
            "element 1: expected int, found string"
        );
    }

    #[test]
    fn argument_errors_name_position_and_callee() {
        let error = i64::from_arg(&Value::from("s"), 2, "add").unwrap_err();
        assert_eq!(error.to_string(), "argument 2 of `add`: expected int, found string");
    }

    #[test]
    fn results_become_errors_with_their_message() {
        let ok: Result<i64, String> = Ok(1);
        assert_eq!(ok.into_result().unwrap(), Value::Int(1));
        let failed: Result<i64, &str> = Err("divide by zero");
        assert_eq!(failed.into_result().unwrap_err().to_string(), "divide by zero");
        // A VM error passes through with its kind.
        let inner = Error::arity("`f` takes 1 argument, but 0 were given");
        let passed: Result<i64, Error> = Err(inner);
        assert_eq!(passed.into_result().unwrap_err().kind(), crate::ErrorKind::Arity);
    }
}
