use stoffel::foreign_fn;

#[foreign_fn]
unsafe fn read_address(address: usize) -> u8 {
    unsafe { *(address as *const u8) }
}

fn main() {}
