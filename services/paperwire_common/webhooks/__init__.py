"""Outbound webhooks: Standard Webhooks signing (signing.py) and the SSRF guard (ssrf.py)."""
