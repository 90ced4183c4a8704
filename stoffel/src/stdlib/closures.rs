//! Closure builtins: `create_closure` captures parameters (a new cell, shared by later captures
//! in the same frame) or the running closure's upvalues (the same cell, as Lua's nested
//! closures); `get_upvalue` / `set_upvalue` work on the calling closure's cells.
//! (`call_closure` runs in the dispatch loop, see `exec::call`.)

use std::sync::{Arc, Mutex};

use super::{arg, fire};
use crate::activation::CapturedCell;
use crate::closure::{Closure, Upvalue};
use crate::error::Error;
use crate::foreign::ForeignFunctionContext;
use crate::hooks::HookEvent;
use crate::state::{Callable, VMState};
use crate::value::Value;

pub(super) fn create_closure(ctx: &mut ForeignFunctionContext<'_>) -> Result<Value, Error> {
    let function_name: String = ctx.arg(0)?;
    let mut names = Vec::with_capacity(ctx.args.len() - 1);
    for index in 1..ctx.args.len() {
        names.push(ctx.arg::<String>(index)?);
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
        if !declared.contains(&name) {
            return Err(Error::not_found(format!(
                "create_closure: `{function_name}` does not declare upvalue `{name}`"
            )));
        }
        if upvalues.iter().any(|upvalue: &Upvalue| upvalue.name == name) {
            return Err(Error::type_error(format!("create_closure: upvalue `{name}` captured twice")));
        }
        let parameter = frame.function.def.parameters.iter().position(|p| *p == name);
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
                    let cell = Arc::new(Mutex::new(state.registers[frame.base + index].clone()));
                    state.captured.push(CapturedCell { depth, parameter: index, cell: Arc::clone(&cell) });
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

/// Runs `f` on the calling frame's upvalue `name` (borrowed: no clone of its name or cell).
fn with_upvalue<R>(
    state: &VMState,
    builtin: &str,
    name: &str,
    f: impl FnOnce(&Upvalue) -> R,
) -> Result<R, Error> {
    let Some(frame) = state.frames.last() else {
        return Err(Error::type_error(format!("{builtin} must be called from a closure")));
    };
    let Some(closure) = &frame.closure else {
        return Err(Error::type_error(format!(
            "{builtin}: `{}` is not running as a closure",
            frame.function.def.name
        )));
    };
    match closure.upvalue(name) {
        Some(upvalue) => Ok(f(upvalue)),
        None => Err(Error::not_found(format!(
            "{builtin}: the closure of `{}` has no upvalue `{name}`",
            closure.function
        ))),
    }
}

pub(super) fn get_upvalue(state: &VMState, args: &[Value]) -> Result<Value, Error> {
    let name: &str = arg(args, 0, "get_upvalue")?;
    let value = with_upvalue(state, "get_upvalue", name, Upvalue::get)?;
    fire(state, || HookEvent::UpvalueRead(name.to_owned(), value.clone()))?;
    Ok(value)
}

pub(super) fn set_upvalue(state: &VMState, args: &[Value]) -> Result<Value, Error> {
    let name: &str = arg(args, 0, "set_upvalue")?;
    let value = args[1].clone();
    let old = with_upvalue(state, "set_upvalue", name, |upvalue| upvalue.set(value.clone()))?;
    fire(state, || HookEvent::UpvalueWrite(name.to_owned(), old, value))?;
    Ok(Value::Unit)
}
