"""TLS for the listening port: policy, the accepting listener, and the handshake log."""
