"""``datafin value ASSET_ID``: value a registered asset and print the breakdown.

`api.cli` registers the function `value` below as the ``value`` command.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from valuation.reconcile import AssetValuation


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def breakdown_lines(
    asset_name: str, result: AssetValuation, valuation_id: int | None = None
) -> list[str]:
    """Human-readable breakdown of a valuation (methods, weights, distribution, quote)."""
    ccy = result.currency
    head = f"Valuation of asset {result.asset_id} ({asset_name}) as of {result.as_of} in {ccy}"
    if valuation_id is not None:
        head += f" - stored as valuation {valuation_id}"
    lines = [head, "", f"{'approach':<10} {'value':>18} {'weight':>7}  basis"]
    for name in ("income", "cost", "market"):
        if name in result.methods:
            m = result.methods[name]
            a = m.assumptions
            if name == "income":
                rate = (
                    f"discount {a['discount_rate']:.2%}"
                    if "discount_rate" in a
                    else f"curve + premium {a.get('risk_premium', 0):.2%}"
                )
                margin = (
                    f"royalty {a['royalty_rate']:.0%}"
                    if "royalty_rate" in a
                    else f"cost ratio {a['cost_ratio']:.0%}"
                )
                basis = (
                    f"{a['income_form']}, share {a['revenue_share']:.0%}, {margin}, "
                    f"tax {a['tax_rate']:.0%}, life {a['economic_life_months']} m, half-life {a['half_life_months']:.1f} m, {rate}, "
                    f"forecast {m.diagnostics['fit']['model']} on {a['forecast']}"
                )
            elif name == "cost":
                basis = (
                    f"replacement {_money(m.diagnostics['replacement_cost'])}, quality "
                    f"{a['quality_coefficient']:.3f}, obsolescence {a['obsolescence']:.1%}"
                )
            else:
                basis = f"{a['method']} on {m.diagnostics['comparables_used']} comparables"
            lines.append(f"{name:<10} {_money(m.value):>18} {result.weights[name]:>7.1%}  {basis}")
        else:
            lines.append(f"{name:<10} {'n/a':>18} {'':>7}  {result.unavailable.get(name, '')}")
    d, q = result.distribution, result.quote
    lines += [
        "",
        f"reconciled value  {_money(result.value)} {ccy}",
        f"distribution      mean {_money(d.mean)}  std {_money(d.std)}  p05 {_money(d.p05)}  "
        f"p50 {_money(d.p50)}  p95 {_money(d.p95)}",
        f"quote             bid {_money(q.bid)}  mid {_money(q.mid)}  ask {_money(q.ask)}",
        f"lending value     {_money(q.lending_value)} (haircut {q.haircut:.1%}), valid until {q.valid_until}",
    ]
    if result.simulation is not None:
        s = result.simulation
        lines.append(
            f"simulation        {s.n_paths:,} paths x {s.months} months, seed {s.seed}, "
            f"s.e. of the mean {_money(s.std_error)}"
        )
    lines += [f"note              {n}" for n in result.notes]
    return lines


def value(
    asset_id: Annotated[int, typer.Argument(help="Id of the registered asset to value.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Valuation date YYYY-MM-DD (default: first day of this month, UTC)."
        ),
    ] = None,
    currency: Annotated[str, typer.Option(help="ISO 4217 valuation currency.")] = "CNY",
    paths: Annotated[int, typer.Option(help="Monte Carlo paths, 1..1,000,000.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo generator.")] = 0,
    assumptions: Annotated[
        str | None, typer.Option(help="Assumptions as JSON, e.g. '{\"discount_rate\": 0.1}'.")
    ] = None,
    tenant: Annotated[str, typer.Option(help="Tenant recorded on the stored valuation.")] = "cli",
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Store the valuation and its quote.")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON instead.")
    ] = False,
) -> None:
    """Value a registered data asset (income, cost, market, Monte Carlo) and print the breakdown."""
    from api.cli_common import CLI_ACTOR, current_engine, fail, reported_errors
    from api.clock import today
    from api.services import valuation as service
    from models import db
    from valuation.conventions import parse_date

    with current_engine() as engine, reported_errors():
        when = parse_date(as_of, field="as_of") if as_of else today().replace(day=1)
        given = None
        if assumptions:
            try:
                given = json.loads(assumptions)
            except ValueError as exc:
                fail(f"--assumptions is not valid JSON: {exc}")
            if not isinstance(given, dict):
                fail("--assumptions must be a JSON object.")
        factory = db.make_session_factory(engine)
        with factory() as session:
            kw: dict[str, Any] = {
                "as_of": when,
                "currency": currency,
                "paths": paths,
                "seed": seed,
                "assumptions": given,
            }
            valuation_id = None
            if store:
                # the command line is the exchange's operator: its stored valuation is the public quote
                created = service.create_valuation(
                    session, asset_id, tenant=tenant, actor=CLI_ACTOR, publish=True, **kw
                )
                result, valuation_id = created.result, created.row.id
            else:
                result = service.value_registered_asset(session, asset_id, **kw)
            name = service.load_inputs(session, asset_id).asset.name
        if as_json:
            doc = result.as_dict()
            doc["valuation_id"] = valuation_id
            typer.echo(service.canonical_json(doc))
        else:
            for line in breakdown_lines(name, result, valuation_id):
                typer.echo(line)
