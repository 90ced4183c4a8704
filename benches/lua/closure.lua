-- closure: a counter closure called n times. n = 1,000,000 unless given.
local n = tonumber(arg and arg[1]) or 1000000
local function make_counter(count) return function() count = count + 1; return count end end
local c = make_counter(0)
local r
for i = 1, n do r = c() end
assert(r == n); print(r)
