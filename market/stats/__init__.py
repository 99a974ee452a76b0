"""Turnover statistics (技术合同成交额) computed from the contract ledger."""
