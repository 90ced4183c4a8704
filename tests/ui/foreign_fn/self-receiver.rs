use stoffel::foreign_fn;

struct Counter {
    count: i64,
}

impl Counter {
    #[foreign_fn]
    fn increment(&mut self) -> i64 {
        self.count += 1;
        self.count
    }
}

fn main() {}
