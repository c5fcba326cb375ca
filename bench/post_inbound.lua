-- wrk script: keep-alive POSTs of an inbound message (a reply with a signature, a quote and a
-- small attachment) to /mockgun/inbound (bench/inbound.py); the recipient picks the route.
local boundary = "bench-boundary"
wrk.method = "POST"
wrk.path = "/mockgun/inbound?to=" .. (os.getenv("BENCH_INBOUND_TO") or "store@app.example.com")
wrk.body = table.concat({
  "From: Ann <ann@customer.example>",
  "To: support@app.example.com",
  "Subject: Re: order 42",
  "Message-Id: <bench@customer.example>",
  "MIME-Version: 1.0",
  "Content-Type: multipart/mixed; boundary=" .. boundary,
  "",
  "--" .. boundary,
  "Content-Type: text/plain; charset=utf-8",
  "",
  "The parcel did not arrive.",
  "",
  "-- ",
  "Ann",
  "",
  "On Tue, 1 Dec 2026 at 10:00, Shop <shop@app.example.com> wrote:",
  "> Your order has shipped.",
  "--" .. boundary,
  "Content-Type: application/pdf",
  "Content-Disposition: attachment; filename=\"receipt.pdf\"",
  "Content-Transfer-Encoding: base64",
  "",
  string.rep("JVBERi0xLjcgcmVjZWlwdA==", 40),
  "--" .. boundary .. "--",
  "",
}, "\r\n")
wrk.headers["Content-Type"] = "message/rfc822"
