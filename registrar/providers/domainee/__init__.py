"""Domainee domain purchases (document 002)."""
