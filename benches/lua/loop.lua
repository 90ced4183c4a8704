-- loop: the sum of i for i in 0..n. n = 100,000,000 unless given.
local n = tonumber(arg and arg[1]) or 100000000
local sum = 0
for i = 0, n - 1 do sum = sum + i end
assert(sum == n * (n - 1) // 2); print(sum)
