use stoffel::{foreign_fn, ForeignFunctionContext, Value};

#[foreign_fn(nmae = "x")]
unsafe fn everything<T>(rest: &[Value], (a, b): (i64, i64), ctx: &mut ForeignFunctionContext) {
    let _ = (rest, a, b, ctx);
}

fn main() {}
