-- object: a record {x = 1, y = 2, count = 0}; n times count = count + x. n = 1,000,000 unless given.
local n = tonumber(arg and arg[1]) or 1000000
local o = {x = 1, y = 2, count = 0}
for i = 1, n do o.count = o.count + o.x end
assert(o.count == n); print(o.count)
