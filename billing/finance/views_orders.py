"""Order list with totals, and its CSV export."""
