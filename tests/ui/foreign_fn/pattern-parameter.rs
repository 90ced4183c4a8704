use stoffel::foreign_fn;

#[foreign_fn]
fn add_pair((a, b): (i64, i64)) -> i64 {
    a + b
}

fn main() {}
