"""Intermediary filings (技术转移机构备案): applications, the bureau's record of each filing, its level in force."""
