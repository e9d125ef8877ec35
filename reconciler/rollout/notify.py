"""Alerts of one environment: queue each for every destination it is routed to (off the step's
path, :mod:`reconciler.alerts.outbox`) and record it (never a URL or key).

The engine says *what* to tell (a :class:`~reconciler.model.rollout.Notify`); this module says
it, once: drift alerts follow target status transitions, a quarantine is told once per revision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..model.codes import AlertCondition
from ..model.inventory import Inventory
from ..model.rollout import Notify, Quarantine
from ..model.status import Status
from ..revisions import revision_label
from ..state.interface import StateStore

if TYPE_CHECKING:
    from ..alerts.outbox import Outbox

#: Where the on-call page is reachable (``daemon --public-url`` sets it): alerts link to it.
PUBLIC_URL = "RECONCILER_PUBLIC_URL"


class Notifier:
    """Sends and records alerts; every send returns the webhooks that did not take it."""

    def __init__(
        self,
        environment: str,
        store: StateStore,
        environ: Mapping[str, str],
        *,
        scope: str = "",
        fence: Callable[[], None] = lambda: None,
        outbox: Outbox | None = None,
    ) -> None:
        self.outbox = outbox  #: None: the process's shared outbox
        self.fence = fence  #: a pre-empted writer alerts nobody: raises Deposed first
        self.environment = environment
        self.store = store
        self.environ = environ
        self.scope = scope  #: "" for the whole environment, else the one target in scope

    def send(
        self, inventory: Inventory, bundle: str, action: Notify, now: float, revision: str | None
    ) -> list[str]:
        """Queue ``action`` for its destinations and record it; the deliveries that failed since
        the last send (one error each; they are retried within bounds before that)."""
        from ..alerts import Alert
        from ..alerts.outbox import shared

        alert = Alert(
            environment=self.environment,
            bundle=bundle,
            condition=action.condition,
            state=action.state,
            revision=revision,
            targets=action.targets,
            message=action.message,
            level=action.level,
            scope=self.scope or None,
        )
        self.fence()
        outbox = self.outbox or shared()
        if inventory.alerts:
            public = self.environ.get(PUBLIC_URL) or None
            outbox.submit(alert, inventory.alerts, self.environ, public)
        errors = outbox.take_errors(self.environment) if inventory.alerts else []
        self.store.record_alert(
            self.environment, bundle, action.condition, action.state, now, alert.payload()
        )
        return errors

    def lifecycle(
        self, inventory: Inventory, bundle: str, moment: str, revision: str, now: float
    ) -> None:
        """A moment of a deployment's life — ``deploying``, ``complete``, ``superseded`` — for
        the GitHub destinations (not an alert: nothing is recorded or shown for it)."""
        from ..alerts import Alert
        from ..alerts.outbox import shared

        if not any(spec.type == "github" for spec in inventory.alerts):
            return
        alert = Alert(self.environment, bundle, moment, "firing", revision, (), moment)
        self.fence()
        public = self.environ.get(PUBLIC_URL) or None
        (self.outbox or shared()).submit(alert, inventory.alerts, self.environ, public)

    def drift(
        self,
        inventory: Inventory,
        bundle: str,
        changed: list[tuple[str, str | None, str]],
        errors: Mapping[str, str | None],
        now: float,
        revision: str,
    ) -> list[str]:
        """Out-of-band drift is its own alert: firing when a target drifts, resolved after."""
        failed: list[str] = []
        for target, was, status in changed:
            if status == Status.DRIFTED:
                notice = Notify(
                    AlertCondition.DRIFTED,
                    "firing",
                    ((target, "changed out of band"),),
                    f"{target} was changed out of band",
                )
            elif was == "drifted":
                why = f" ({errors[target]})" if errors.get(target) else ""
                notice = Notify(
                    AlertCondition.DRIFTED,
                    "resolved",
                    ((target, status),),
                    f"{target} is {status} now{why}",
                )
            else:
                continue
            failed += self.send(inventory, bundle, notice, now, revision)
        return failed

    def quarantine(self, inventory: Inventory, held: Quarantine, now: float) -> list[str]:
        """Say once per quarantined revision that its content is held (and why nothing moves)."""
        for sent in self.store.alerts(self.environment):
            same = (sent["bundle"], sent["condition"]) == (held.bundle, "quarantined")
            if same and sent["payload"].get("revision") == held.revision:
                return []
        to = f" to {revision_label(held.to_revision)}" if held.to_revision else ""
        message = (
            f"desired content of {held.bundle} was rolled back{to} from "
            f"{revision_label(held.revision)} by "
            f"{held.by}; nothing is applied until it changes or `reconciler rollout resume` "
            "lifts the quarantine"
        )
        notice = Notify(AlertCondition.QUARANTINED, "firing", (), message)
        return self.send(inventory, held.bundle, notice, now, held.revision)
