"""Documents a credit committee reads, and table exports.

- `api.reports.valuation`: the appraisal report of a stored valuation (contents in the
  order of the China Appraisal Society's 2023 guidance on data-asset appraisal reports).
- `api.reports.certificate`: the collateral certificate of a loan.
- `api.reports.deal`: the securitization report (structure, pool, base-case cash flows
  per class, tranche analytics, pool loss distribution, SEC-SA risk weights).
- `api.reports.stress`: the stress report of a stored run.
- `api.reports.exports`: tables as CSV, Excel (openpyxl) or Parquet (pyarrow), the same
  columns in every format.

Rendering: Jinja2 templates shipped as package data (``templates/``), charts drawn with
matplotlib as SVG (inline in HTML, vector in PDF), PDF made by WeasyPrint. Text is set
in a CJK-capable font stack (Noto Sans CJK, from Debian's ``fonts-noto-cjk``) so Chinese
asset names render; nothing is fetched from the network.
"""
