"""Human accounts and login sessions for the JWT attacks, written straight into the foundation's tables
(users, auth_sessions) before the app starts, so the attacks need no login endpoint to exist."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import insert

from membank.storage.sql import tables
from tests.security import snapshot

PASSWORD = "correct horse battery staple 42"


@dataclass(frozen=True, slots=True)
class Account:
    tenant_id: str
    user_id: str
    email: str
    session_id: str  # an active login session
    revoked_session_id: str  # a session revoked (logout) a minute ago


def create_account(
    sqlite_path: Path, tenant_id: str, email: str, roles: list[str], *, failed_login: bool = False
) -> Account:
    now = time.time()
    user_id, active, revoked = (str(uuid.uuid4()) for _ in range(3))
    with snapshot.store_reader(sqlite_path) as engine, engine.begin() as conn:
        conn.execute(
            insert(tables.users).values(
                id=user_id,
                tenant_id=tenant_id,
                email=email,
                display_name=email.split("@")[0],
                status="active",
                roles=json.dumps(roles),
                password_hash=PasswordHasher().hash(PASSWORD),
                password_changed_at=now,
                must_change_password=0,
                created_at=now,
                updated_at=now,
            )
        )
        for session_id, revoked_at in ((active, None), (revoked, now - 60)):
            conn.execute(
                insert(tables.auth_sessions).values(
                    id=session_id,
                    tenant_id=tenant_id,
                    account_id=user_id,
                    device="attack suite",
                    ip="127.0.0.1",
                    user_agent="attack-suite/1",
                    created_at=now - 120,
                    last_seen_at=now - 120,
                    expires_at=now + 3600,
                    revoked_at=revoked_at,
                    revoked_reason="logout" if revoked_at else None,
                )
            )
        if failed_login:
            conn.execute(
                insert(tables.login_failures).values(
                    tenant_id=tenant_id, email=email, failures=1, lockouts=0, updated_at=now
                )
            )
    return Account(tenant_id, user_id, email, active, revoked)
