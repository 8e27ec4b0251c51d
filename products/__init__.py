"""Securitization waterfalls, tranche analytics, SEC-SA capital and data-revenue notes."""
