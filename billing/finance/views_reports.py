"""Order detail timeline, needs-attention report, revenue chart."""
