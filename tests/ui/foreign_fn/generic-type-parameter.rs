use stoffel::foreign_fn;

#[foreign_fn]
fn largest<T: PartialOrd>(a: T, b: T) -> T {
    if a > b { a } else { b }
}

fn main() {}
