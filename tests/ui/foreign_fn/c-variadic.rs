use stoffel::foreign_fn;

#[foreign_fn]
fn sum(first: i64, _: ...) -> i64 {
    first
}

fn main() {}
