"""name.com: its pricing rules (document 004) and the Core API purchases."""
