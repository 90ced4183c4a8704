//! Builtins that talk to the world: `print` (to the VM's output sink), `type`, `error`.

use crate::error::{Error, ErrorKind};
use crate::foreign::ForeignFunctionContext;
use crate::state::VMState;
use crate::Value;

/// `print(args…)`: the arguments' `Display`, space-separated, then a newline.
pub(super) fn print(ctx: &mut ForeignFunctionContext<'_>) -> Result<Value, Error> {
    let line = ctx.args.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
    ctx.write_output(&line)?;
    ctx.write_output("\n")?;
    Ok(Value::Unit)
}

/// `type(value)`: the type name as a string.
pub(super) fn type_of(_: &VMState, args: &[Value]) -> Result<Value, Error> {
    Ok(Value::from(args[0].type_name()))
}

/// `error(message)`: fails with the message (programs need a way to fail).
pub(super) fn raise(_: &VMState, args: &[Value]) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::Raised, args[0].to_string()))
}
