"""Revision files: 0001_registry <- 0002_valuation <- 0003_credit <- 0004_products <- 0005_risk."""
