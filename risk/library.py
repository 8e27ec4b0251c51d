"""The built-in library of named stress scenarios, each with its rationale.

The figures below are judgement calibrated to public events; each function's docstring
gives the event, the figure and where it was reported. They are starting points for a
risk committee, not forecasts. User scenarios may ``extends`` any of them by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from risk.scenarios import RightsEvent, Scenario, Shocks, compose


def baseline() -> Scenario:
    """No shock: every stressed figure equals its base (the control run)."""
    return Scenario(
        name="baseline",
        shocks=Shocks(),
        horizon_months=12,
        description="No shock; the control run.",
    )


def rates_up_200bp() -> Scenario:
    """Risk-free rates up 200 bp in parallel over 12 months.

    Rationale: the Basel Committee's interest-rate-risk standard (IRRBB, BCBS d368, 2016)
    uses a +200 bp parallel shock for most currencies as its standard outlier test; the US
    Federal Reserve raised the funds rate by more than that within 2022. Data-asset values
    are discounted cash flows, so they fall; tranche prices fall with them.
    """
    return Scenario(
        name="rates_up_200bp",
        shocks=Shocks(rate_shift_bp=200.0),
        horizon_months=12,
        description="Parallel +200 bp (BCBS IRRBB standard shock).",
    )


#: Catalogue revenue factor of the demand-slump scenario: -20 %. Source: recorded-music
#: catalogue income fell by about a fifth in the years before Moody's cut the "Bowie
#: Bonds" (USD 55m, 1997, backed by David Bowie's catalogue royalties) three notches, from
#: A3 to Baa3, in May 2004, citing weak recorded-music sales: the RIAA's year-end figures
#: put the dollar value of US shipments at USD 14.6bn in 1999 and USD 11.9bn in 2003
#: (-19 %), and the IFPI reported world sales down 7.6 % in value in 2003 alone.
DEMAND_SLUMP_REVENUE_MULTIPLIER = 0.80


def data_demand_slump() -> Scenario:
    """Demand for data licences falls like recorded-music catalogue income did by 2004.

    Rationale: revenue x 0.80 (`DEMAND_SLUMP_REVENUE_MULTIPLIER`: the ~20 % decline of
    recorded-music income, 1999-2003, that led Moody's to downgrade the Bowie royalty bonds
    three notches, A3 -> Baa3, in May 2004; RIAA shipments USD 14.6bn -> 11.9bn), growth
    down 5 points a year (the decline persisted: US shipments kept falling through 2009) and
    revenue volatility x 1.5 (uncertainty rises when a market turns). Horizon 12 months.
    """
    return Scenario(
        name="data_demand_slump",
        shocks=Shocks(
            revenue_multiplier=DEMAND_SLUMP_REVENUE_MULTIPLIER,
            growth_shift=-0.05,
            volatility_multiplier=1.5,
        ),
        horizon_months=12,
        description="Catalogue revenue -20% (music royalties 1999-2003, Bowie Bonds cut "
        "A3->Baa3 in 2004), growth -5pp/yr, volatility x1.5.",
    )


#: Value kept by personal (consumer, healthcare) data assets that lose cross-border rights.
CROSS_BORDER_PERSONAL_FACTOR = 0.60
#: Value kept by geospatial data assets that lose cross-border rights.
CROSS_BORDER_GEOSPATIAL_FACTOR = 0.50


def regulatory_cross_border() -> Scenario:
    """Cross-border transfer barred for personal (consumer, healthcare) and geospatial data.

    Rationale: China's Measures on Security Assessment of Outbound Data Transfers (CAC,
    in force 1 September 2022) and the PIPL (arts. 38-40) make export of personal
    information and "important data" (which includes surveying and geospatial data under
    the Surveying and Mapping Law) subject to approval; the EU Court of Justice's Schrems II
    ruling (July 2020) voided the EU-US Privacy Shield overnight. Assets of these categories
    that hold a cross-border right lose it: the part of their revenue earned abroad is
    assumed lost, 40 % for personal data (`CROSS_BORDER_PERSONAL_FACTOR` 0.60) and 50 % for
    geospatial data (`CROSS_BORDER_GEOSPATIAL_FACTOR` 0.50, a smaller domestic market for
    high-resolution mapping). Judgement, to be replaced by each asset's revenue split by
    territory when it is recorded. Horizon 12 months.
    """
    return Scenario(
        name="regulatory_cross_border",
        shocks=Shocks(
            rights_events=(
                RightsEvent("consumer", False, CROSS_BORDER_PERSONAL_FACTOR),
                RightsEvent("healthcare", False, CROSS_BORDER_PERSONAL_FACTOR),
                RightsEvent("geospatial", False, CROSS_BORDER_GEOSPATIAL_FACTOR),
            )
        ),
        horizon_months=12,
        description="Cross-border transfer barred for consumer, healthcare and geospatial "
        "data (CAC 2022 measures, PIPL, Schrems II).",
    )


def ai_obsolescence() -> Scenario:
    """Return the scenario in which generative models make licensed datasets obsolete faster.

    Rationale: an added obsolescence hazard of 15 % a year (about one asset in seven stops
    earning within a year), the obsolescence half-life halved, and growth down 10 points a
    year. Anchor: Stack Overflow's question volume fell by about half within 18 months of
    ChatGPT's release (as reported from Stack Exchange's public data, 2023-2024), and Chegg's
    market value fell by more than 95 % from its 2021 peak by 2024 as students moved to AI
    tools: income from data that a model can now generate decays fast. The figures are
    judgement anchored on these reports. Horizon 12 months.
    """
    return Scenario(
        name="ai_obsolescence",
        shocks=Shocks(obsolescence_hazard_add=0.15, half_life_multiplier=0.5, growth_shift=-0.10),
        horizon_months=12,
        description="Obsolescence hazard +15%/yr, half-life x0.5, growth -10pp/yr "
        "(Stack Overflow, Chegg after ChatGPT).",
    )


def downturn_credit() -> Scenario:
    """Return a credit downturn: PD x 2.5, downturn LGD, correlation +5 points.

    Rationale: Moody's global speculative-grade default rate peaked near 13 % in late 2009
    against a long-run average of about 4-5 % (Moody's annual default study, 2010):
    a factor of 2.5-3. Downturn LGD adds `risk.scenarios.DOWNTURN_LGD_ADD` (15 points) to
    the long-run LGD, capped at 1. Asset correlation rises in a downturn (defaults cluster);
    +5 points is the spread of Basel's corporate correlation range (12 %-24 %) divided by
    roughly two. Credit spreads +150 bp: US high-yield spreads widened by several hundred
    bp in 2008-09 and by about 400 bp in March 2020; 150 bp is a moderate fraction.
    """
    return Scenario(
        name="downturn_credit",
        shocks=Shocks(
            pd_multiplier=2.5,
            downturn_lgd=True,
            correlation_shift=0.05,
            credit_spread_shift_bp=150.0,
        ),
        horizon_months=12,
        description="PD x2.5 (Moody's 2009 peak vs average), downturn LGD (+15pp), "
        "correlation +5pp, credit spreads +150bp.",
    )


def severe_combined() -> Scenario:
    """Return the scenario with every shock at once.

    Everything at once: demand slump, rates +200 bp, cross-border ban, AI obsolescence, credit
    downturn, and liquidation costs up 10 points (buyers scarce in a fire sale).

    Rationale: the severely adverse scenario of a supervisory stress test combines the
    shocks that tend to come together; growth shifts add (-5 and -10 points), the other
    shocks are taken from their single-factor scenarios. Horizon 12 months.
    """
    shocks = Shocks()
    for part in (
        data_demand_slump(),
        rates_up_200bp(),
        regulatory_cross_border(),
        ai_obsolescence(),
        downturn_credit(),
    ):
        shocks = compose(shocks, part.shocks)
    shocks = compose(shocks, Shocks(growth_shift=-0.15, liquidation_cost_add=0.10))
    return Scenario(
        name="severe_combined",
        shocks=shocks,
        horizon_months=12,
        description="All library shocks together, growth -15pp/yr, liquidation cost +10pp.",
    )


_BUILTINS: Mapping[str, Callable[[], Scenario]] = MappingProxyType(
    {
        f.__name__: f
        for f in (
            baseline,
            rates_up_200bp,
            data_demand_slump,
            regulatory_cross_border,
            ai_obsolescence,
            downturn_credit,
            severe_combined,
        )
    }
)

BUILTIN_NAMES: tuple[str, ...] = tuple(_BUILTINS)


def get_builtin(name: str) -> Scenario | None:
    """Return the built-in scenario called ``name``, or None."""
    factory = _BUILTINS.get(name)
    return None if factory is None else factory()


def builtins() -> list[Scenario]:
    """All built-in scenarios, in library order."""
    return [f() for f in _BUILTINS.values()]
