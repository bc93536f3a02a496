"""Compensation: payout curves, plans, statements, cost under budget and plan design.

Pure functions on integer cents (expectations and simulated distributions are float cents).
The method is ``shared/specs/quota-comp.md``; every worked example of it is a test.
"""

from terraplan.comp.cost import (
    CostEstimate,
    CostSimulation,
    ReplayResult,
    Team,
    comonotone_cvar,
    cvar,
    expected_cost,
    mu_from_expected,
    replay_cost,
    sample_attainment,
    simulate_cost,
)
from terraplan.comp.curve import Cliff, Knots, PayoutCurve
from terraplan.comp.design import (
    DEFAULT_GRID,
    DEFAULT_M_MAX,
    BandSensitivity,
    DesignResult,
    DesignStatus,
    accelerator_for_budget,
    design_curve,
)
from terraplan.comp.plan import (
    DEFAULT_BASE_SHARE,
    CompPlan,
    RosterPlans,
    default_base_share,
    pay_mix,
    plans_for_roster,
)
from terraplan.comp.statement import (
    Clawback,
    Deal,
    Draw,
    PayoutStatement,
    StatementRow,
    payout_statement,
)

__all__ = [
    "DEFAULT_BASE_SHARE", "DEFAULT_GRID", "DEFAULT_M_MAX", "BandSensitivity", "Clawback", "Cliff",
    "CompPlan", "CostEstimate", "CostSimulation", "Deal", "DesignResult", "DesignStatus", "Draw",
    "Knots", "PayoutCurve", "PayoutStatement", "ReplayResult", "RosterPlans", "StatementRow",
    "Team",
    "accelerator_for_budget", "comonotone_cvar", "cvar", "default_base_share", "design_curve",
    "expected_cost", "mu_from_expected", "pay_mix", "payout_statement", "plans_for_roster",
    "replay_cost",
    "sample_attainment", "simulate_cost",
]
