"""A constraint the database enforces at flush or commit is a 409 from the service, and the
session stays usable: the path taken when two admins create the same key at the same moment
(the lookup before the write cannot see a row the other request has not committed yet)."""

import pytest

from api.errors import Problem
from api.services import reference as reference_service
from api.services import sla_admin
from db.models import ProductRow
from db.repositories import reference as reference_repo
from db.session import Database


async def _product_exists(database: Database, product_id: str) -> None:
    async with database.transaction() as session:
        await reference_repo.create_product(session, product_id, "Router")


async def test_a_duplicate_caught_at_flush_is_a_409_naming_what_was_written(
    database: Database,
) -> None:
    await _product_exists(database, "rt-1")
    async with database.session() as session:
        with pytest.raises(Problem) as refused:
            async with reference_service._writing(session, "product 'rt-1'"):
                await reference_repo.create_product(session, "rt-1", "Router again")
        assert refused.value.status == 409
        assert "product 'rt-1' conflicts with existing data" in refused.value.detail
        assert [p.name for p in await reference_repo.list_products(session)] == ["Router"]


async def test_a_duplicate_caught_at_commit_is_a_409_asking_to_read_again(
    database: Database,
) -> None:
    await _product_exists(database, "rt-2")
    async with database.session() as session:
        session.add(ProductRow(id="rt-2", name="Router again"))
        with pytest.raises(Problem) as refused:
            await sla_admin._commit(session, "product 'rt-2'")
        assert refused.value.status == 409
        assert "changed concurrently; read it again" in refused.value.detail
        assert [p.name for p in await reference_repo.list_products(session)] == ["Router"]
