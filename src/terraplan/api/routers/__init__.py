"""One router per resource; :data:`ROUTERS` is what the app includes, in documentation order."""

from terraplan.api.routers import (
    analysis,
    health,
    inputs,
    keys,
    owners,
    plans,
    rebalance,
    scenarios,
    solves,
)

ROUTERS = (health.router, owners.router, inputs.router, scenarios.router, solves.router,
           plans.router, rebalance.router, analysis.router, keys.router)

__all__ = ["ROUTERS"]
