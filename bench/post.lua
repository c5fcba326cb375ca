-- wrk script: keep-alive POSTs of a small Mailgun send form.
wrk.method = "POST"
wrk.body = "from=a%40example.com&to=b%40example.com&subject=hi&text=hello"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic YXBpOmtleS1iZW5jaA=="  -- api:key-bench
