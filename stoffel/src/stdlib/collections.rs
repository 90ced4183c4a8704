//! Object and array builtins: `create_object`, `create_array`, `get_field`, `set_field`,
//! `array_length`, `array_push`. Arrays are dense and 0-based; objects take int, string and
//! bool keys and read a missing key as unit. Events fire after the checks pass.

use crate::error::Error;
use crate::foreign::ForeignFunctionContext;
use crate::hooks::HookEvent;
use crate::value::{ArrayRef, Key, Value};

/// Capacity reserved up front at most; larger arrays grow as they fill, so a huge requested
/// capacity cannot exhaust memory by itself.
const MAX_RESERVE: usize = 1 << 20;

pub(super) fn create_object(ctx: &mut ForeignFunctionContext<'_>) -> Result<Value, Error> {
    ctx.create_object()
}

pub(super) fn create_array(ctx: &mut ForeignFunctionContext<'_>) -> Result<Value, Error> {
    let capacity: Option<i64> = ctx.arg(0)?;
    let capacity = match capacity {
        None => 0,
        Some(n) if n >= 0 => n as usize,
        Some(n) => return Err(Error::bounds(format!("create_array: capacity {n} is negative"))),
    };
    ctx.create_array(Vec::with_capacity(capacity.min(MAX_RESERVE)))
}

fn array_index(array: &ArrayRef, key: &Value, len: usize) -> Result<usize, Error> {
    match key {
        Value::Int(i) if *i >= 0 && (*i as u64) < len as u64 => Ok(*i as usize),
        Value::Int(i) => Err(Error::bounds(format!("array index {i} out of range for length {len}"))),
        other => {
            let _ = array;
            Err(Error::type_error(format!("array index must be an int, found {}", other.type_name())))
        }
    }
}

fn object_key(key: &Value) -> Result<Key, Error> {
    Key::from_value(key).ok_or_else(|| {
        Error::type_error(format!("object key must be an int, string or bool, found {}", key.type_name()))
    })
}

fn not_a_collection(function: &str, value: &Value) -> Error {
    Error::type_error(format!(
        "argument 1 of `{function}`: expected object or array, found {}",
        value.type_name()
    ))
}

pub(super) fn get_field(ctx: &mut ForeignFunctionContext<'_>) -> Result<Value, Error> {
    let (target, key) = (&ctx.args[0], &ctx.args[1]);
    match target {
        Value::Object(object) => {
            let value = object.get(&object_key(key)?).unwrap_or_default();
            ctx.fire(|| HookEvent::ObjectFieldRead(target.clone(), key.clone(), value.clone()))?;
            Ok(value)
        }
        Value::Array(array) => {
            let value = array.with_elements(|elements| {
                array_index(array, key, elements.len()).map(|index| (index, elements[index].clone()))
            });
            let (index, value) = value?;
            ctx.fire(|| HookEvent::ArrayElementRead(target.clone(), index, value.clone()))?;
            Ok(value)
        }
        other => Err(not_a_collection("get_field", other)),
    }
}

pub(super) fn set_field(ctx: &mut ForeignFunctionContext<'_>) -> Result<Value, Error> {
    let (target, key, value) = (&ctx.args[0], &ctx.args[1], &ctx.args[2]);
    match target {
        Value::Object(object) => {
            let key_value = object_key(key)?;
            let old = object.set(key_value, value.clone()).unwrap_or_default();
            ctx.fire(|| HookEvent::ObjectFieldWrite(target.clone(), key.clone(), old, value.clone()))?;
        }
        Value::Array(array) => {
            let max = ctx.object_store().max_array_length();
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
                        let index = array_index(array, key, len)?;
                        Ok((index, std::mem::replace(&mut elements[index], value.clone())))
                    }
                }
            });
            let (index, old) = written?;
            ctx.fire(|| HookEvent::ArrayElementWrite(target.clone(), index, old, value.clone()))?;
        }
        other => return Err(not_a_collection("set_field", other)),
    }
    Ok(Value::Unit)
}

pub(super) fn array_length(ctx: &mut ForeignFunctionContext<'_>) -> Result<Value, Error> {
    let array: ArrayRef = ctx.arg(0)?;
    Ok(Value::Int(array.len() as i64))
}

pub(super) fn array_push(ctx: &mut ForeignFunctionContext<'_>) -> Result<Value, Error> {
    let array: ArrayRef = ctx.arg(0)?;
    let values = &ctx.args[1..];
    let max = ctx.object_store().max_array_length();
    let start = array.with_elements(|elements| {
        if elements.len().saturating_add(values.len()) > max {
            return Err(Error::limit(format!("array length limit of {max} reached")));
        }
        let start = elements.len();
        elements.extend_from_slice(values);
        Ok(start)
    })?;
    if ctx.hooks_active() {
        for (offset, value) in values.iter().enumerate() {
            ctx.fire(|| {
                HookEvent::ArrayElementWrite(ctx.args[0].clone(), start + offset, Value::Unit, value.clone())
            })?;
        }
    }
    Ok(Value::Int((start + values.len()) as i64))
}
