"""Local HTTP and SMTP servers that record what they receive (filled in by the notify work)."""
