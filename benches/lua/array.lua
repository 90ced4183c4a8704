local t = {}
for i = 0, 1000000 - 1 do t[#t + 1] = i end
local sum = 0
for i = 1, #t do sum = sum + t[i] end
assert(sum == 499999500000); print(sum)
