"""Mailgun's other front door: SMTP submission with STARTTLS (``--smtp-port``) and implicit TLS
(``--smtps-port``), with the same TLS floor and handshake log as the HTTPS port.

Built on aiosmtpd (aio-libs' SMTP server). :mod:`.door` holds the protocol and the listeners.
"""
