use stoffel::foreign_fn;

#[foreign_fn]
async fn fetch(url: String) -> String {
    url
}

fn main() {}
