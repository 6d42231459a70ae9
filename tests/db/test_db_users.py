"""Web users and sessions: hashed demo passwords, case-insensitive usernames, sessions that
expire and end, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

from db.passwords import verify_password
from db.repositories import users
from db.seed import demo_users, seed_demo_data
from db.session import Database

NOW = datetime(2031, 7, 15, 9, 0, tzinfo=UTC)


async def test_demo_users_are_stored_with_an_argon2_hash_of_their_password(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await seed_demo_data(session)
    async with database.transaction() as session:
        for username, password, role, _who in demo_users():
            user = await users.find_user(session, username.upper())
            assert user is not None, username
            assert user.role.value == role
            assert user.password_hash.startswith("$argon2id$")
            assert password not in user.password_hash
            assert verify_password(password, user.password_hash)[0]
        jane = await users.find_user(session, "jane")
        assert jane is not None and jane.organisation_id == "acme"
        alice = await users.find_user(session, "alice")
        assert alice is not None and alice.display_name == "Alice Martin"


async def test_a_session_is_found_by_its_token_until_it_expires_or_ends(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await seed_demo_data(session)
        await users.create_session(session, "raw-token-1", "usr-jane", "csrf-1", NOW)
        await users.create_session(
            session, "raw-token-2", "usr-jane", "csrf-2", NOW + timedelta(hours=1)
        )
    async with database.transaction() as session:
        assert await users.find_session(session, "raw-token-1", NOW) is None  # expired
        found = await users.find_session(session, "raw-token-2", NOW)
        assert found is not None and found[0].csrf_token == "csrf-2"
        assert found[0].id != "raw-token-2"  # only the token's hash is stored
        await users.delete_session(session, "raw-token-2")
    async with database.transaction() as session:
        assert await users.find_session(session, "raw-token-2", NOW) is None
