"""The two listings: achievements (科技成果) and demands (技术需求)."""
