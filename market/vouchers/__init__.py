"""Innovation vouchers (创新券): programmes, providers, vouchers, service bookings, redemption, figures."""
