use stoffel::foreign_fn;

#[foreign_fn]
fn double(x: &i64) -> i64 {
    x * 2
}

fn main() {}
