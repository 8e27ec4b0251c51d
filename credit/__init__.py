"""Loans, collateral, PD/LGD/EL, IRB capital, pricing, monitoring and portfolio loss."""
