"""The scenario store: SQLAlchemy 2 models, Alembic migrations, lifecycle rules, plan I/O and
compare arithmetic. Callers go through :mod:`terraplan.services`."""

from terraplan.scenarios.lifecycle import EDITABLE, TRANSITIONS, VERBS, ScenarioStatus

__all__ = ["EDITABLE", "TRANSITIONS", "VERBS", "ScenarioStatus"]
