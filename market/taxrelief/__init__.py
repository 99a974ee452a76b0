"""The seller's technology-transfer income-tax relief estimate (技术转让所得减免企业所得税)."""
