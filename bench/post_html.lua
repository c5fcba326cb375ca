-- wrk script: keep-alive POSTs of a send with a 100 KB HTML body (a long receipt table),
-- urlencoded as most clients send it (bench/requests_per_second.py --script post_html.lua).
local rows = {}
for i = 1, 1400 do
  rows[#rows + 1] = string.format('<tr class="row"><td style="color: #333">Item %d</td><td>%d.00 EUR</td></tr>', i, i)
end
local html = "<table>" .. table.concat(rows, "\n") .. "</table>"
local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
wrk.method = "POST"
wrk.body = "from=a%40example.com&to=b%40example.com&subject=Receipt&html=" .. encode(html)
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic YXBpOmtleS1iZW5jaA=="  -- api:key-bench
