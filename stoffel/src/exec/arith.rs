//! Arithmetic and bitwise handlers: int/float promotion, checked int overflow, string
//! concatenation, shifts. Handlers return a bare error; the loop adds where it happened.

use crate::error::Error;
use crate::value::Value;

/// Runs `handler` out of the dispatch loop: the loop keeps only the int fast paths inline, so
/// its hot code stays small (fewer spills, denser in the instruction cache).
#[inline(never)]
pub(crate) fn out_of_line(
    handler: fn(&Value, &Value) -> Result<Value, Error>,
    a: &Value,
    b: &Value,
) -> Result<Value, Error> {
    handler(a, b)
}

#[cold]
fn mismatch(mnemonic: &str, a: &Value, b: &Value) -> Error {
    Error::type_error(format!("{mnemonic} cannot take {} and {}", a.type_name(), b.type_name()))
}

#[cold]
fn overflow(mnemonic: &str) -> Error {
    Error::arithmetic(format!("arithmetic overflow in {mnemonic}"))
}

#[cold]
fn division_by_zero(mnemonic: &str) -> Error {
    Error::arithmetic(format!("division by zero in {mnemonic}"))
}

/// `ADD`, `SUB`, `MUL`: checked on ints, IEEE on floats, ints promote when mixed with floats.
macro_rules! numeric_op {
    ($name:ident, $mnemonic:literal, $checked:ident, $float_op:tt) => {
        #[inline(always)]
        pub(crate) fn $name(a: &Value, b: &Value) -> Result<Value, Error> {
            match (a, b) {
                (Value::Int(x), Value::Int(y)) => x.$checked(*y).map(Value::Int).ok_or_else(|| overflow($mnemonic)),
                (Value::Float(x), Value::Float(y)) => Ok(Value::Float(x $float_op y)),
                (Value::Int(x), Value::Float(y)) => Ok(Value::Float(*x as f64 $float_op y)),
                (Value::Float(x), Value::Int(y)) => Ok(Value::Float(x $float_op *y as f64)),
                _ => numeric_fallback($mnemonic, a, b),
            }
        }
    };
}

numeric_op!(add, "ADD", checked_add, +);
numeric_op!(sub, "SUB", checked_sub, -);
numeric_op!(mul, "MUL", checked_mul, *);

/// The longest string `ADD` may build (256 MiB): a program doubling a string in a loop gets a
/// limit error long before the host runs out of memory.
pub const MAX_STRING_LENGTH: usize = 1 << 28;

#[cold]
fn numeric_fallback(mnemonic: &str, a: &Value, b: &Value) -> Result<Value, Error> {
    match (mnemonic, a, b) {
        ("ADD", Value::String(x), Value::String(y)) => {
            if x.len() + y.len() > MAX_STRING_LENGTH {
                return Err(Error::limit(format!(
                    "string length limit of {MAX_STRING_LENGTH} bytes reached in ADD"
                )));
            }
            let mut joined = String::with_capacity(x.len() + y.len());
            joined.push_str(x);
            joined.push_str(y);
            Ok(Value::from(joined))
        }
        _ => Err(mismatch(mnemonic, a, b)),
    }
}

/// `DIV`: ints truncate toward zero; int zero and `i64::MIN / -1` are errors.
#[inline]
pub(crate) fn div(a: &Value, b: &Value) -> Result<Value, Error> {
    match (a, b) {
        (Value::Int(_), Value::Int(0)) => Err(division_by_zero("DIV")),
        (Value::Int(x), Value::Int(y)) => x.checked_div(*y).map(Value::Int).ok_or_else(|| overflow("DIV")),
        _ => float_pair("DIV", a, b).map(|(x, y)| Value::Float(x / y)),
    }
}

/// `MOD`: the dividend's sign (Rust's `%`); int zero is an error; `i64::MIN MOD -1` is 0.
#[inline]
pub(crate) fn rem(a: &Value, b: &Value) -> Result<Value, Error> {
    match (a, b) {
        (Value::Int(_), Value::Int(0)) => Err(division_by_zero("MOD")),
        (Value::Int(x), Value::Int(y)) => Ok(Value::Int(x.wrapping_rem(*y))),
        _ => float_pair("MOD", a, b).map(|(x, y)| Value::Float(x % y)),
    }
}

fn float_pair(mnemonic: &str, a: &Value, b: &Value) -> Result<(f64, f64), Error> {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Ok((*x, *y)),
        (Value::Int(x), Value::Float(y)) => Ok((*x as f64, *y)),
        (Value::Float(x), Value::Int(y)) => Ok((*x, *y as f64)),
        _ => Err(mismatch(mnemonic, a, b)),
    }
}

/// `AND`, `OR`, `XOR`: bitwise on ints, logical on bools.
macro_rules! bitwise_op {
    ($name:ident, $mnemonic:literal, $op:tt) => {
        #[inline]
        pub(crate) fn $name(a: &Value, b: &Value) -> Result<Value, Error> {
            match (a, b) {
                (Value::Int(x), Value::Int(y)) => Ok(Value::Int(x $op y)),
                (Value::Bool(x), Value::Bool(y)) => Ok(Value::Bool(x $op y)),
                _ => Err(mismatch($mnemonic, a, b)),
            }
        }
    };
}

bitwise_op!(and, "AND", &);
bitwise_op!(or, "OR", |);
bitwise_op!(xor, "XOR", ^);

/// `NOT`: bitwise on ints, logical on bools.
#[inline]
pub(crate) fn not(a: &Value) -> Result<Value, Error> {
    match a {
        Value::Int(x) => Ok(Value::Int(!x)),
        Value::Bool(x) => Ok(Value::Bool(!x)),
        _ => Err(Error::type_error(format!("NOT cannot take {}", a.type_name()))),
    }
}

fn shift_amount(mnemonic: &str, a: &Value, b: &Value) -> Result<(i64, u32), Error> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) if (0..=63).contains(y) => Ok((*x, *y as u32)),
        (Value::Int(_), Value::Int(y)) => {
            Err(Error::arithmetic(format!("shift amount {y} out of range 0..=63 in {mnemonic}")))
        }
        _ => Err(mismatch(mnemonic, a, b)),
    }
}

/// `SHL`: shifts the two's-complement bits left; bits shifted out are dropped.
#[inline]
pub(crate) fn shl(a: &Value, b: &Value) -> Result<Value, Error> {
    shift_amount("SHL", a, b).map(|(x, n)| Value::Int(x << n))
}

/// `SHR`: arithmetic shift right.
#[inline]
pub(crate) fn shr(a: &Value, b: &Value) -> Result<Value, Error> {
    shift_amount("SHR", a, b).map(|(x, n)| Value::Int(x >> n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> Value {
        Value::Int(v)
    }

    #[test]
    fn int_semantics_follow_the_contract() {
        assert_eq!(div(&int(-7), &int(2)).unwrap(), int(-3));
        assert_eq!(rem(&int(-7), &int(2)).unwrap(), int(-1));
        assert_eq!(rem(&int(i64::MIN), &int(-1)).unwrap(), int(0));
        assert!(div(&int(i64::MIN), &int(-1)).unwrap_err().to_string().contains("overflow in DIV"));
        assert!(div(&int(1), &int(0)).unwrap_err().to_string().contains("division by zero in DIV"));
        assert!(rem(&int(1), &int(0)).unwrap_err().to_string().contains("division by zero in MOD"));
        assert_eq!(shl(&int(1), &int(63)).unwrap(), int(i64::MIN));
        assert_eq!(shr(&int(-8), &int(1)).unwrap(), int(-4));
        assert!(shl(&int(1), &int(64)).is_err());
        assert!(shr(&int(1), &int(-1)).is_err());
        assert_eq!(add(&int(i64::MAX), &int(1)).unwrap_err().to_string(), "arithmetic overflow in ADD");
    }

    #[test]
    fn mixed_types() {
        assert_eq!(add(&int(1), &Value::Float(0.5)).unwrap(), Value::Float(1.5));
        assert_eq!(add(&Value::from("a"), &Value::from("b")).unwrap(), Value::from("ab"));
        assert_eq!(
            sub(&Value::from("a"), &int(1)).unwrap_err().to_string(),
            "SUB cannot take string and int"
        );
        assert_eq!(and(&Value::Bool(true), &Value::Bool(false)).unwrap(), Value::Bool(false));
        assert_eq!(xor(&int(6), &int(3)).unwrap(), int(5));
        assert!(div(&Value::Float(1.0), &int(0)).unwrap().to_string().contains("inf"));
        let half = Value::from("x".repeat(MAX_STRING_LENGTH / 2 + 1));
        assert_eq!(add(&half, &half).unwrap_err().kind(), crate::ErrorKind::Limit);
    }
}
