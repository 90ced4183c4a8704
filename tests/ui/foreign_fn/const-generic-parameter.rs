use stoffel::foreign_fn;

#[foreign_fn]
fn scaled<const FACTOR: i64>(x: i64) -> i64 {
    x * FACTOR
}

fn main() {}
