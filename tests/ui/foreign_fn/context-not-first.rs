use stoffel::{foreign_fn, ForeignFunctionContext, Value};

#[foreign_fn]
fn call_twice(name: &str, ctx: &mut ForeignFunctionContext) -> Result<Value, stoffel::Error> {
    ctx.call(name, &[])?;
    ctx.call(name, &[])
}

fn main() {}
