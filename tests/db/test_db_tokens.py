"""API tokens: only hashes are stored, and revoked tokens no longer authenticate."""

import hashlib

import pytest
import sqlalchemy as sa

from db.models import TokenRow
from db.repositories import reference
from db.session import Database
from domain.enums import Role

RAW = "s3cret-token-value-for-tests"


async def test_only_the_sha256_of_a_token_is_stored(database: Database) -> None:
    async with database.transaction() as session:
        await reference.create_organisation(session, "acme", "Acme")
        await reference.create_token(
            session, "Jane", Role.CUSTOMER, RAW, organisation_id="acme", token_id="tok-1"
        )
    async with database.session() as session:
        row = (await session.execute(sa.select(TokenRow.__table__))).one()
    assert row.token_hash == hashlib.sha256(RAW.encode()).hexdigest()
    assert all(RAW not in str(value) for value in row)


async def test_find_token_matches_live_tokens_and_ignores_revoked_ones(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await reference.create_token(session, "Admin", Role.ADMIN, RAW, token_id="tok-admin")
    async with database.session() as session:
        found = await reference.find_token(session, RAW)
        assert found is not None and found.id == "tok-admin" and found.role == Role.ADMIN
        assert await reference.find_token(session, RAW + "x") is None
    async with database.transaction() as session:
        assert await reference.revoke_token(session, "tok-admin")
        assert not await reference.revoke_token(session, "tok-admin")
    async with database.session() as session:
        assert await reference.find_token(session, RAW) is None
        assert await reference.list_tokens(session) == []
        assert len(await reference.list_tokens(session, include_revoked=True)) == 1


async def test_tokens_must_be_bound_to_whom_their_role_acts_for(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(ValueError, match="organisation"):
            await reference.create_token(session, "x", Role.CUSTOMER, RAW)
        with pytest.raises(ValueError, match="engineer"):
            await reference.create_token(session, "x", Role.MANAGER, RAW)
