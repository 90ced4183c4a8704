use stoffel::foreign_fn;

#[foreign_fn]
fn show(value: impl std::fmt::Display) -> String {
    value.to_string()
}

fn main() {}
