"""Human accounts: administration, passwords, lockout and login."""
