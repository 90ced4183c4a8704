use stoffel::foreign_fn;

struct Point {
    x: f64,
    y: f64,
}

#[foreign_fn]
fn length(point: Point) -> f64 {
    point.x.hypot(point.y)
}

fn main() {}
