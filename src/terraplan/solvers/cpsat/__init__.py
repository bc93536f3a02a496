"""CP-SAT backend (OR-Tools): one module per rule, see :mod:`.model` for the overview."""

from terraplan.solvers.cpsat.backend import CpSatBackend, unsupported_rule

__all__ = ["CpSatBackend", "unsupported_rule"]
