"""Technology contracts: registration and recognition (技术合同认定登记)."""
