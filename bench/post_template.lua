-- wrk script: keep-alive POSTs of a send that names a stored template (bench/templates.py).
wrk.method = "POST"
wrk.body = "from=a%40example.com&to=b%40example.com&template=bench"
  .. "&t%3Avariables=%7B%22name%22%3A%22Ann%22%2C%22vip%22%3Atrue%2C%22items%22%3A%5B1%2C2%2C3%5D%7D"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic YXBpOmtleS1iZW5jaA=="  -- api:key-bench
