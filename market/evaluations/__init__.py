"""Achievement evaluation (科技成果评价) by agencies the bureau approves."""
