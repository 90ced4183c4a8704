-- array: push 0..n into a table, then sum it by index. n = 1,000,000 unless given.
local n = tonumber(arg and arg[1]) or 1000000
local t = {}
for i = 0, n - 1 do t[#t + 1] = i end
local sum = 0
for i = 1, #t do sum = sum + t[i] end
assert(sum == n * (n - 1) // 2); print(sum)
