"""Scenario lifecycle: statuses, allowed transitions, and which statuses may be edited.

::

    draft ──record plan──▶ solved ──submit──▶ in_review ──approve──▶ approved ──activate──▶ active
      ▲                     │  ▲                 │                     │                     │
      └──── edit spec ──────┘  └──── send back ──┘◀──── reopen ────────┘                     │
    draft/solved/in_review/approved ──archive──▶ archived ◀──── retire / superseded ──────────┘

Decisions (documented because planners ask):

* ``solved → draft`` happens implicitly when the spec of a solved scenario is edited: its plan no
  longer matches its rules. Recording a new plan on a draft or solved scenario makes it ``solved``.
* ``in_review → solved`` (*send back*): a reviewer rejects; the planner edits and resubmits.
* ``approved → in_review`` (*reopen*) is allowed before go-live: the content is unchanged (an
  approved scenario is immutable), only its approval is withdrawn. ``active`` cannot be reopened:
  the CRM may already read it; copy it to a child scenario instead.
* ``active → archived`` (*retire*) leaves the cycle with no active plan; activation of another
  approved scenario archives the previously active one in the same transaction.
* ``archived`` is final. Every status can be copied into a new draft child scenario.
* Content (spec, plans, quotas, comp, metrics) may change only in ``draft`` and ``solved``;
  ``in_review`` is frozen while it is reviewed, ``approved``/``active``/``archived`` for ever.
"""

from __future__ import annotations

from enum import StrEnum

from terraplan.errors import LifecycleError


class ScenarioStatus(StrEnum):
    DRAFT = "draft"
    SOLVED = "solved"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    ACTIVE = "active"
    ARCHIVED = "archived"


S = ScenarioStatus

#: Allowed explicit transitions ``from -> {to}``.
TRANSITIONS: dict[ScenarioStatus, frozenset[ScenarioStatus]] = {
    S.DRAFT: frozenset({S.SOLVED, S.ARCHIVED}),
    S.SOLVED: frozenset({S.DRAFT, S.SOLVED, S.IN_REVIEW, S.ARCHIVED}),
    S.IN_REVIEW: frozenset({S.SOLVED, S.APPROVED, S.ARCHIVED}),
    S.APPROVED: frozenset({S.IN_REVIEW, S.ACTIVE, S.ARCHIVED}),
    S.ACTIVE: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
}

#: Statuses whose content (spec, plan, quotas, comp, metrics) may change.
EDITABLE: frozenset[ScenarioStatus] = frozenset({S.DRAFT, S.SOLVED})

#: Verbs used by the services/CLI, mapped to the target status.
VERBS: dict[str, ScenarioStatus] = {
    "submit": S.IN_REVIEW, "send_back": S.SOLVED, "approve": S.APPROVED,
    "reopen": S.IN_REVIEW, "activate": S.ACTIVE, "archive": S.ARCHIVED,
}


def check_transition(name: str, current: ScenarioStatus | str, target: ScenarioStatus) -> None:
    """Raise :class:`LifecycleError` unless ``current -> target`` is allowed."""
    cur = ScenarioStatus(current)
    if target not in TRANSITIONS[cur]:
        allowed = ", ".join(sorted(t.value for t in TRANSITIONS[cur])) or "none (final)"
        raise LifecycleError(
            f"scenario '{name}' is {cur.value}; it cannot become {target.value} "
            f"(allowed from {cur.value}: {allowed})")


def check_editable(name: str, current: ScenarioStatus | str, what: str) -> None:
    """Raise :class:`LifecycleError` when ``what`` would change a frozen scenario."""
    cur = ScenarioStatus(current)
    if cur not in EDITABLE:
        hint = ("send it back to solved first" if cur is S.IN_REVIEW
                else "copy it to a child scenario and edit the copy")
        raise LifecycleError(
            f"scenario '{name}' is {cur.value} and cannot be changed ({what}); {hint}")
