use stoffel::{foreign_fn, Value};

#[foreign_fn]
fn print_with(values: &[Value], separator: &str) {
    let _ = (values, separator);
}

fn main() {}
