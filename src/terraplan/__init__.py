"""terraplan — optimization engine for sales territory, quota and compensation planning.

The data flows one way: ``io`` (read and validate CRM exports) → ``domain`` (accounts, reps,
scenario spec) → ``problem`` (compile to arrays) → ``solvers`` → a :class:`~terraplan.domain.Plan`
→ ``evaluate`` (independent re-check and explanation) → ``quota`` / ``comp`` → ``scenarios``
(versioned store) → ``services`` → ``api`` / ``cli``.
"""

import logging

from terraplan.domain import (
    Account,
    AccountBook,
    Plan,
    Rep,
    RepRoster,
    Scenario,
    ScenarioSpec,
)
from terraplan.errors import InputValidationError, TerraplanError

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Account", "AccountBook", "InputValidationError", "Plan", "Rep", "RepRoster", "Scenario",
    "ScenarioSpec", "TerraplanError", "__version__",
]
