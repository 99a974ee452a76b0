"""Science commissioners (科技特派员): registry, dispatch, annual evaluation awards, figures."""
