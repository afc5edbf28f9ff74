"""rankaudit."""
