"""The HTTP side: Mailgun's /v3 API and mockgun's own /mockgun inspection endpoints."""
