"""Open calls (揭榜挂帅): problems, bids, review, award and delivery."""
