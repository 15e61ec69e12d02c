"""Login sessions and refresh tokens on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, insert, select, update

from membank.models.account import UserAccount
from membank.storage.ports.login_sessions import LoginSession, RefreshTokenRecord
from membank.storage.sql.accounts import account_from_row
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.tables import auth_sessions, refresh_tokens, users

_SESSION_COLUMNS = [column.label(f"s_{column.name}") for column in auth_sessions.c]


def _session_from_row(row: RowMapping, prefix: str = "") -> LoginSession:
    return LoginSession(
        id=row[f"{prefix}id"],
        tenant_id=row[f"{prefix}tenant_id"],
        account_id=row[f"{prefix}account_id"],
        device=row[f"{prefix}device"],
        ip=row[f"{prefix}ip"],
        user_agent=row[f"{prefix}user_agent"],
        created_at=row[f"{prefix}created_at"],
        last_seen_at=row[f"{prefix}last_seen_at"],
        expires_at=row[f"{prefix}expires_at"],
        mfa_at=row[f"{prefix}mfa_at"],
        revoked_at=row[f"{prefix}revoked_at"],
        revoked_reason=row[f"{prefix}revoked_reason"],
    )


def _token_from_row(row: RowMapping) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        id=row["id"],
        session_id=row["session_id"],
        token_hash=row["token_hash"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        parent_id=row["parent_id"],
        used_at=row["used_at"],
    )


def _live(tenant_id: str, account_id: str, now: float) -> ColumnElement[bool]:
    return and_(
        auth_sessions.c.tenant_id == tenant_id,
        auth_sessions.c.account_id == account_id,
        auth_sessions.c.revoked_at.is_(None),
        auth_sessions.c.expires_at > now,
    )


class SqlLoginSessions:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_conflicts
    def start(self, session: LoginSession, token: RefreshTokenRecord, *, limit: int) -> list[str]:
        with self._db.write() as conn:
            # The account row is locked first, so two logins of one account count each other's sessions.
            conn.execute(
                update(users).where(users.c.id == session.account_id).values(last_login_at=session.created_at)
            )
            conn.execute(insert(auth_sessions).values(**_session_values(session)))
            conn.execute(insert(refresh_tokens).values(**_token_values(token)))
            live = conn.execute(
                select(auth_sessions.c.id)
                .where(_live(session.tenant_id, session.account_id, session.created_at))
                .order_by(auth_sessions.c.created_at.desc(), auth_sessions.c.id.desc())
            ).scalars()
            over = list(live)[limit:]
            if over:
                self._revoke_ids(conn, over, reason="session_limit", at=session.created_at)
        return over

    @retry_reads
    def with_account(self, session_id: str) -> tuple[LoginSession, UserAccount] | None:
        query = (
            select(users, *_SESSION_COLUMNS)
            .select_from(auth_sessions.join(users, users.c.id == auth_sessions.c.account_id))
            .where(auth_sessions.c.id == session_id)
        )
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        return (_session_from_row(row, "s_"), account_from_row(row)) if row is not None else None

    @retry_reads
    def refresh_token(self, token_hash: str) -> tuple[RefreshTokenRecord, LoginSession] | None:
        query = (
            select(refresh_tokens, *_SESSION_COLUMNS)
            .select_from(
                refresh_tokens.join(auth_sessions, auth_sessions.c.id == refresh_tokens.c.session_id)
            )
            .where(refresh_tokens.c.token_hash == token_hash)
        )
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        return (_token_from_row(row), _session_from_row(row, "s_")) if row is not None else None

    @retry_conflicts
    def rotate(self, used: RefreshTokenRecord, successor: RefreshTokenRecord, at: float) -> bool:
        with self._db.write() as conn:
            marked = conn.execute(
                update(refresh_tokens)
                .where(refresh_tokens.c.id == used.id, refresh_tokens.c.used_at.is_(None))
                .values(used_at=at)
            )
            if marked.rowcount != 1:
                return False
            conn.execute(insert(refresh_tokens).values(**_token_values(successor)))
            conn.execute(
                update(auth_sessions).where(auth_sessions.c.id == used.session_id).values(last_seen_at=at)
            )
        return True

    @retry_conflicts
    def confirm_mfa(self, session_id: str, at: float) -> None:
        with self._db.write_one() as conn:
            conn.execute(update(auth_sessions).where(auth_sessions.c.id == session_id).values(mfa_at=at))

    @retry_conflicts
    def touch(self, session_id: str, at: float) -> None:
        with self._db.write_one() as conn:
            conn.execute(
                update(auth_sessions)
                .where(auth_sessions.c.id == session_id, auth_sessions.c.last_seen_at < at)
                .values(last_seen_at=at)
            )

    @retry_reads
    def live_sessions(self, tenant_id: str, account_id: str, now: float) -> list[LoginSession]:
        query = (
            select(auth_sessions)
            .where(_live(tenant_id, account_id, now))
            .order_by(auth_sessions.c.created_at.desc(), auth_sessions.c.id.desc())
        )
        with self._db.read() as conn:
            return [_session_from_row(row) for row in conn.execute(query).mappings()]

    @retry_conflicts
    def revoke(
        self, tenant_id: str, session_id: str, *, reason: str, at: float, account_id: str | None = None
    ) -> bool:
        query = update(auth_sessions).where(
            auth_sessions.c.id == session_id,
            auth_sessions.c.tenant_id == tenant_id,
            auth_sessions.c.revoked_at.is_(None),
        )
        if account_id is not None:
            query = query.where(auth_sessions.c.account_id == account_id)
        with self._db.write_one() as conn:
            revoked = conn.execute(query.values(revoked_at=at, revoked_reason=reason))
        return revoked.rowcount == 1

    @retry_conflicts
    def revoke_all(self, tenant_id: str, account_id: str, *, reason: str, at: float) -> list[str]:
        with self._db.write() as conn:
            ids = list(
                conn.execute(select(auth_sessions.c.id).where(_live(tenant_id, account_id, at))).scalars()
            )
            self._revoke_ids(conn, ids, reason=reason, at=at)
        return ids

    @staticmethod
    def _revoke_ids(conn: Connection, ids: list[str], *, reason: str, at: float) -> None:
        conn.execute(
            update(auth_sessions)
            .where(auth_sessions.c.id.in_(ids), auth_sessions.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
        )


def _session_values(session: LoginSession) -> dict[str, object]:
    return {column.name: getattr(session, column.name) for column in auth_sessions.c}


def _token_values(token: RefreshTokenRecord) -> dict[str, object]:
    return {column.name: getattr(token, column.name) for column in refresh_tokens.c}
