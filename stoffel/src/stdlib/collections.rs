//! Object and array builtins: `create_object`, `create_array`, `get_field`, `set_field`,
//! `array_length`, `array_push`. Arrays are dense and 0-based; objects take int, string and
//! bool keys and read a missing key as unit. Events fire after the checks pass.

use super::{arg, fire};
use crate::error::Error;
use crate::fields::KeyRef;
use crate::hooks::HookEvent;
use crate::state::VMState;
use crate::value::{ArrayRef, Value};

/// Capacity reserved up front at most; larger arrays grow as they fill, so a huge requested
/// capacity cannot exhaust memory by itself.
const MAX_RESERVE: usize = 1 << 20;

pub(super) fn create_object(state: &VMState, _: &[Value]) -> Result<Value, Error> {
    Ok(Value::Object(state.store.new_object()?))
}

pub(super) fn create_array(state: &VMState, args: &[Value]) -> Result<Value, Error> {
    let capacity: Option<i64> = arg(args, 0, "create_array")?;
    let capacity = match capacity {
        None => 0,
        Some(n) if n >= 0 => n as usize,
        Some(n) => return Err(Error::bounds(format!("create_array: capacity {n} is negative"))),
    };
    Ok(Value::Array(state.store.new_array(Vec::with_capacity(capacity.min(MAX_RESERVE)))?))
}

fn array_index(key: &Value, len: usize) -> Result<usize, Error> {
    match key {
        Value::Int(i) if *i >= 0 && (*i as u64) < len as u64 => Ok(*i as usize),
        Value::Int(i) => Err(Error::bounds(format!("array index {i} out of range for length {len}"))),
        other => Err(Error::type_error(format!("array index must be an int, found {}", other.type_name()))),
    }
}

fn object_key(key: &Value) -> Result<KeyRef<'_>, Error> {
    KeyRef::of(key).ok_or_else(|| {
        Error::type_error(format!("object key must be an int, string or bool, found {}", key.type_name()))
    })
}

fn not_a_collection(function: &str, value: &Value) -> Error {
    Error::type_error(format!(
        "argument 1 of `{function}`: expected object or array, found {}",
        value.type_name()
    ))
}

pub(super) fn get_field(state: &VMState, args: &[Value]) -> Result<Value, Error> {
    let (target, key) = (&args[0], &args[1]);
    match target {
        Value::Object(object) => {
            let value = object.lookup(object_key(key)?).unwrap_or_default();
            fire(state, || HookEvent::ObjectFieldRead(target.clone(), key.clone(), value.clone()))?;
            Ok(value)
        }
        Value::Array(array) => {
            let value = array.with_elements(|elements| {
                array_index(key, elements.len()).map(|index| (index, elements[index].clone()))
            });
            let (index, value) = value?;
            fire(state, || HookEvent::ArrayElementRead(target.clone(), index, value.clone()))?;
            Ok(value)
        }
        other => Err(not_a_collection("get_field", other)),
    }
}

pub(super) fn set_field(state: &VMState, args: &[Value]) -> Result<Value, Error> {
    let (target, key, value) = (&args[0], &args[1], &args[2]);
    match target {
        Value::Object(object) => {
            let old = object.assign(object_key(key)?, value.clone()).unwrap_or_default();
            fire(state, || HookEvent::ObjectFieldWrite(target.clone(), key.clone(), old, value.clone()))?;
        }
        Value::Array(array) => {
            let max = state.store.max_array_length();
            let written = array.with_elements(|elements| {
                let len = elements.len();
                match key {
                    // Writing at `len` appends.
                    Value::Int(i) if *i >= 0 && *i as u64 == len as u64 => {
                        if len >= max {
                            return Err(Error::limit(format!("array length limit of {max} reached")));
                        }
                        elements.push(value.clone());
                        Ok((len, Value::Unit))
                    }
                    _ => {
                        let index = array_index(key, len)?;
                        Ok((index, std::mem::replace(&mut elements[index], value.clone())))
                    }
                }
            });
            let (index, old) = written?;
            fire(state, || HookEvent::ArrayElementWrite(target.clone(), index, old, value.clone()))?;
        }
        other => return Err(not_a_collection("set_field", other)),
    }
    Ok(Value::Unit)
}

pub(super) fn array_length(_: &VMState, args: &[Value]) -> Result<Value, Error> {
    let array: ArrayRef = arg(args, 0, "array_length")?;
    Ok(Value::Int(array.len() as i64))
}

pub(super) fn array_push(state: &VMState, args: &[Value]) -> Result<Value, Error> {
    // Borrowed, not converted: an `ArrayRef` argument would clone (and drop) the handle.
    let Some(Value::Array(array)) = args.first() else {
        return Err(arg::<ArrayRef>(args, 0, "array_push")
            .err()
            .unwrap_or_else(|| Error::type_error("expected array")));
    };
    let values = &args[1..];
    let max = state.store.max_array_length();
    let start = array.with_elements(|elements| {
        if elements.len().saturating_add(values.len()) > max {
            return Err(Error::limit(format!("array length limit of {max} reached")));
        }
        let start = elements.len();
        elements.extend_from_slice(values);
        Ok(start)
    })?;
    for (offset, value) in values.iter().enumerate() {
        fire(state, || {
            HookEvent::ArrayElementWrite(args[0].clone(), start + offset, Value::Unit, value.clone())
        })?;
    }
    Ok(Value::Int((start + values.len()) as i64))
}
