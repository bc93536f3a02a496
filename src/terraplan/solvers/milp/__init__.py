"""MILP backends: one PuLP model (one module per rule, see :mod:`.model`), solved by HiGHS
through highspy (:class:`HighsBackend`, name ``milp``) or by CBC (:class:`CbcBackend`,
``milp-cbc``)."""

from terraplan.solvers.milp.cbc import CbcBackend
from terraplan.solvers.milp.highs import HighsBackend

__all__ = ["CbcBackend", "HighsBackend"]
