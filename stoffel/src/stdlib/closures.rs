//! Closure builtins: `create_closure` captures parameters (a new cell, shared by later captures
//! in the same frame) or the running closure's upvalues (the same cell, as Lua's nested
//! closures); `get_upvalue` / `set_upvalue` work on the calling closure's cells.
//! (`call_closure` runs in the dispatch loop, see `exec::call`.)

use std::sync::Arc;

use super::arg;
use crate::activation::CapturedCell;
use crate::closure::{Closure, Upvalue, UpvalueCell};
use crate::error::Error;
use crate::foreign::ForeignFunctionContext;
use crate::hooks::HookEvent;
use crate::state::{Callable, VMState};
use crate::value::{Str, Value};

pub(super) fn create_closure(ctx: &mut ForeignFunctionContext<'_>) -> Result<Value, Error> {
    let function_name: String = ctx.arg(0)?;
    let mut names = Vec::with_capacity(ctx.args.len() - 1);
    for index in 1..ctx.args.len() {
        // Kept as the caller's string (an interned constant, usually), so `get_upvalue` finds
        // it by pointer.
        match &ctx.args[index] {
            Value::String(name) => names.push(name.clone()),
            _ => names.push(Str::from(ctx.arg::<String>(index)?)),
        }
    }
    let state = &mut *ctx.state;
    let slot = state.functions.lookup(&function_name);
    let declared = match slot.and_then(|slot| state.functions.get(slot)) {
        Some((_, Callable::Vm(function))) => function.def.upvalues.clone(),
        _ => return Err(Error::not_found(format!("create_closure: `{function_name}` is not a VM function"))),
    };
    let depth = state.frames.len().saturating_sub(1);
    let Some(frame) = state.frames.last() else {
        return Err(Error::type_error("create_closure must be called from a VM function"));
    };
    let mut upvalues = Vec::with_capacity(names.len());
    for name in names {
        if !declared.iter().any(|declared| declared.as_str() == name.as_str()) {
            return Err(Error::not_found(format!(
                "create_closure: `{function_name}` does not declare upvalue `{name}`"
            )));
        }
        if upvalues.iter().any(|upvalue: &Upvalue| upvalue.name.as_str() == name.as_str()) {
            return Err(Error::type_error(format!("create_closure: upvalue `{name}` captured twice")));
        }
        let parameter = frame.function.def.parameters.iter().position(|p| p.as_str() == name.as_str());
        let cell = if let Some(index) = parameter {
            let found = state
                .captured
                .iter()
                .rev()
                .take_while(|captured| captured.depth == depth)
                .find(|captured| captured.parameter == index);
            match found {
                Some(captured) => Arc::clone(&captured.cell),
                None => {
                    let cell = Arc::new(UpvalueCell::new(state.registers[frame.base + index].clone()));
                    state.captured.push(CapturedCell { depth, parameter: index, cell: Arc::clone(&cell) });
                    // Counted as a reference write: the frame then takes the full clean-up on
                    // return, which pops this cell (`close_frame`).
                    state.ref_writes += 1;
                    cell
                }
            }
        } else if let Some(upvalue) = frame.closure.as_ref().and_then(|closure| closure.upvalue(&name)) {
            Arc::clone(&upvalue.cell)
        } else {
            return Err(Error::not_found(format!(
                "create_closure: cannot capture `{name}`: it is neither a parameter nor an upvalue of `{}`",
                frame.function.def.name
            )));
        };
        upvalues.push(Upvalue { name, cell });
    }
    let slot = state.functions.slot(&function_name);
    let closure = Value::Closure(Arc::new(Closure { function: function_name.clone(), slot, upvalues }));
    ctx.fire(|| HookEvent::ClosureCreated(function_name, closure.clone()))?;
    Ok(closure)
}

/// The calling closure's upvalue `name` (borrowed: no clone of its name or cell).
#[inline]
fn find_upvalue<'s>(state: &'s VMState, builtin: &str, name: &Str) -> Result<&'s Upvalue, Error> {
    let Some(frame) = state.frames.last() else {
        return Err(Error::type_error(format!("{builtin} must be called from a closure")));
    };
    let Some(closure) = &frame.closure else {
        return Err(Error::type_error(format!(
            "{builtin}: `{}` is not running as a closure",
            frame.function.def.name
        )));
    };
    closure.upvalue_named(name).ok_or_else(|| {
        Error::not_found(format!("{builtin}: the closure of `{}` has no upvalue `{name}`", closure.function))
    })
}

/// The name argument of `get_upvalue`/`set_upvalue`, as the string it is.
#[inline]
fn name_argument<'a>(args: &'a [Value], builtin: &str) -> Result<&'a Str, Error> {
    match &args[0] {
        Value::String(name) => Ok(name),
        _ => Err(arg::<&str>(args, 0, builtin).err().unwrap_or_else(|| Error::type_error("expected string"))),
    }
}

/// Reads the running closure's upvalue `name` for `caller` (a builtin or an instruction),
/// firing `UpvalueRead` when hooks are enabled. The value is built where it is returned: a
/// `Value` moved whole through `?` after being written piecewise stalls on store forwarding
/// (perf: ~45% of `get_upvalue`).
#[inline]
pub(crate) fn read_upvalue(state: &VMState, caller: &str, name: &Str) -> Result<Value, Error> {
    let upvalue = find_upvalue(state, caller, name)?;
    if state.hooks_active() {
        let value = upvalue.get();
        state.fire(HookEvent::UpvalueRead(name.to_string(), value.clone()))?;
        return Ok(value);
    }
    Ok(upvalue.get())
}

/// Writes `value` into the running closure's upvalue `name` for `caller`, firing
/// `UpvalueWrite` when hooks are enabled.
#[inline]
pub(crate) fn write_upvalue(state: &VMState, caller: &str, name: &Str, value: &Value) -> Result<(), Error> {
    let upvalue = find_upvalue(state, caller, name)?;
    let old = upvalue.set(value.clone());
    if state.hooks_active() {
        state.fire(HookEvent::UpvalueWrite(name.to_string(), old, value.clone()))?;
    } else {
        crate::exec::discard(old);
    }
    Ok(())
}

pub(super) fn get_upvalue(state: &VMState, args: &[Value]) -> Result<Value, Error> {
    read_upvalue(state, "get_upvalue", name_argument(args, "get_upvalue")?)
}

pub(super) fn set_upvalue(state: &VMState, args: &[Value]) -> Result<Value, Error> {
    write_upvalue(state, "set_upvalue", name_argument(args, "set_upvalue")?, &args[1])?;
    Ok(Value::Unit)
}
