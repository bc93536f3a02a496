"""Quotas: street total, allocation methods, bounds, rounding, periods, ramp and fairness.

Pure functions on integer cents, independent of the solvers: they take any plan. The method is
``shared/specs/quota-comp.md``; every worked example of it is a test.
"""

from terraplan.quota._exact import apportion, largest_remainder, round_half_up, to_fraction
from terraplan.quota.allocate import (
    QuotaAllocation,
    QuotaMethod,
    allocate_quotas,
    blended_index,
    equal_probability_index,
    even_index,
    growth_split_index,
    merge_upper,
    potential_cap_bounds,
    round_quotas,
    street_total,
    water_fill,
    yoy_bounds,
)
from terraplan.quota.attainment import (
    AttainmentModel,
    call_value,
    lognormal_quantile,
    lognormal_tail_mean,
    prob_at_least,
    prob_sum_at_least,
)
from terraplan.quota.fairness import (
    Dispersion,
    FairnessReport,
    QuotaWarning,
    RepFairness,
    WarningCode,
    fairness_report,
)
from terraplan.quota.history import (
    recut_history,
    rep_potential,
    rep_workload,
    territory_overlap,
)
from terraplan.quota.periods import (
    PeriodKind,
    PlanCalendar,
    QuotaMove,
    QuotaSchedule,
    QuotaTransfer,
    RampMode,
    RampSchedule,
    RepQuota,
    employment_ramp,
    moves_between,
    ramp_quotas,
    seasonal_split,
    transfer_quota,
)
from terraplan.quota.workflow import PlanQuotas, quotas_for_plan

__all__ = [
    "AttainmentModel", "Dispersion", "FairnessReport", "PeriodKind", "PlanCalendar", "PlanQuotas",
    "QuotaAllocation", "QuotaMethod", "QuotaMove", "QuotaSchedule", "QuotaTransfer",
    "QuotaWarning", "RampMode", "RampSchedule", "RepFairness", "RepQuota", "WarningCode",
    "allocate_quotas", "apportion", "blended_index", "call_value", "employment_ramp",
    "equal_probability_index", "even_index", "fairness_report", "growth_split_index",
    "largest_remainder", "lognormal_quantile", "lognormal_tail_mean", "merge_upper",
    "moves_between", "potential_cap_bounds", "prob_at_least", "prob_sum_at_least",
    "quotas_for_plan",
    "ramp_quotas", "recut_history", "rep_potential", "rep_workload", "round_half_up",
    "round_quotas", "seasonal_split", "street_total", "territory_overlap", "to_fraction",
    "transfer_quota", "water_fill", "yoy_bounds",
]
