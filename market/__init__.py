"""market — backend of a municipal technology market (科技大市场)."""
