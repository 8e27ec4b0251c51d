"""Demo and test data: seeded, realistic sample data assets (`samples.data_assets`).

Not part of any pricing method: the demo, the tests and the benchmarks draw their inputs
here, and the valuation, credit, products and risk packages never import it.
"""
