use stoffel::foreign_fn;

struct Point {
    x: f64,
    y: f64,
}

#[foreign_fn]
fn origin() -> Point {
    Point { x: 0.0, y: 0.0 }
}

fn main() {}
