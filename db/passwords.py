"""How a password is stored: an argon2id hash (pwdlib's recommended parameters), never the
password; verification also says when a stored hash should be upgraded."""

from functools import lru_cache

from pwdlib import PasswordHash


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, stored_hash: str) -> tuple[bool, str | None]:
    """(matches, a rehash to store instead of `stored_hash`, if the parameters changed)."""
    return _hasher().verify_and_update(password, stored_hash)


def burn_verification(password: str) -> None:
    """Spend the time of one verification, so an unknown username answers no faster than
    a wrong password (usernames cannot be discovered by timing)."""
    _hasher().verify(password, _dummy_hash())


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("no user has this password")
