"""From an HTTP form to a validated send request (and, later, to MIME)."""
