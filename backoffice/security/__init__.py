"""Staff login security: the second factor (TOTP apps, backup codes, passkeys), who may
reach what before giving it, enrolment and reset, and the lockout page."""
