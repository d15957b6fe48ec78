"""The PostgreSQL backend the test suite runs on: Django's, with test flushes that
empty the append-only tables too."""
