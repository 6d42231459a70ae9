"""Knowledge base side effects: telling engineers about their prompts (through the notifier
port, once per prompt) and the periodic search for articles nobody uses any more."""

import structlog
from temporalio import activity

from db.models import utcnow
from db.repositories import knowledge as knowledge_repo
from db.repositories import reference as reference_repo
from db.session import Database
from domain.knowledge import PromptDelivery, StaleArticlesQuery
from integrations.notify.port import NotificationFailed, Notifier, OutboundMessage, Recipient

log = structlog.get_logger("itr.knowledge")


class KnowledgeActivities:
    """Bound to the Database and the notifier; registered on the worker as bound methods."""

    def __init__(self, db: Database, notifier: Notifier, public_base_url: str) -> None:
        self._db = db
        self._notifier = notifier
        self._base_url = public_base_url.rstrip("/")

    async def deliver_pending(self, issue_id: str | None = None) -> int:
        """Send every prompt not yet sent (the prompt id is the delivery id, so a receiver
        drops a repeat after a crash between sending and remembering); a failed delivery
        stays pending for the next sweep and never fails the caller."""
        async with self._db.transaction() as session:
            pending = await knowledge_repo.undelivered_prompts(session, issue_id)
            engineers = {
                engineer_id: await reference_repo.get_engineer(session, engineer_id)
                for engineer_id in {p.engineer_id for p in pending if p.engineer_id is not None}
            }
        delivered = 0
        for prompt in pending:
            engineer = engineers.get(prompt.engineer_id or "")
            recipients = (
                (
                    Recipient(
                        kind="engineer", id=engineer.id, name=engineer.name, email=engineer.email
                    ),
                )
                if engineer is not None
                else ()
            )
            target = (
                f"{self._base_url}/issues/{prompt.issue_id}"
                if prompt.issue_id
                else f"{self._base_url}/knowledge/articles/{prompt.article_id}"
            )
            message = OutboundMessage(
                delivery_id=f"knowledge:{prompt.id}",
                issue_id=prompt.issue_id or "",
                kind=f"knowledge_{prompt.kind.value}",
                subject=prompt.message,
                at=prompt.created_at,
                recipients=recipients,
                data={"article_id": prompt.article_id, "prompt_id": prompt.id},
                issue_url=target,
            )
            try:
                await self._notifier.send(message)
            except NotificationFailed as exc:
                log.warning("knowledge prompt not delivered", prompt_id=prompt.id, error=str(exc))
                continue
            async with self._db.transaction() as session:
                await knowledge_repo.mark_prompt_notified(session, prompt.id, utcnow())
            delivered += 1
        return delivered

    @activity.defn(name="itr.knowledge.deliver_prompts")
    async def deliver_prompts(self, request: PromptDelivery) -> int:
        return await self.deliver_pending(request.issue_id)

    @activity.defn(name="itr.knowledge.suggest_archiving")
    async def suggest_archiving(self, query: StaleArticlesQuery) -> list[str]:
        """Prompt about validated articles unused for `stale_after` as of the workflow's now."""
        async with self._db.transaction() as session:
            return await knowledge_repo.suggest_archiving(session, query.now, query.stale_after)
