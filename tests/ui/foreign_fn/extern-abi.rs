use stoffel::foreign_fn;

#[foreign_fn]
extern "C" fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
