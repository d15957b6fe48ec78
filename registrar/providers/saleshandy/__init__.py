"""Saleshandy email-infrastructure orders (document 003)."""
