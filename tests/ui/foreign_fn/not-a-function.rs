use stoffel::foreign_fn;

#[foreign_fn]
struct Counter {
    count: i64,
}

fn main() {}
