"""Entri Sell Enterprise (document 000): domains, DNS records, orders, billing links."""
