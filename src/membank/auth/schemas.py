"""Request and response bodies of the login-session endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200, description="The refresh token last issued")


class TokensOut(BaseModel):
    """A new access token and the refresh token that replaces the one presented."""

    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 (the OAuth token type, not a secret)
    expires_in: int = Field(description="Seconds the access token is valid for")
    session_id: str


class LoginSessionOut(BaseModel):
    """One live login session (times are epoch seconds)."""

    id: str
    device: str
    ip: str
    user_agent: str
    created_at: float
    last_seen_at: float
    expires_at: float
    mfa: bool
    current: bool = Field(description="Whether this request came with this session's access token")


class LoginSessionsOut(BaseModel):
    sessions: list[LoginSessionOut]


class RevokedOut(BaseModel):
    revoked: list[str] = Field(description="Ids of the sessions revoked")


class JwksOut(BaseModel):
    """A JSON Web Key Set (RFC 7517): the public keys access tokens are verified with."""

    keys: list[dict[str, str]]


class WhoAmIOut(BaseModel):
    """The identity this request acts as and what it may do (no secret: the caller's own view)."""

    tenant_id: str
    subject: str = Field(
        description="`user:<account id>` for a login session, the key's subject for an API key"
    )
    kind: str = Field(description="api_key, user or anonymous (auth disabled on loopback)")
    roles: list[str]
    permissions: list[str] = Field(description="resource:action:scope, sorted")
    user_ids: list[str] | None = Field(description="The end users it is bound to; null: none bound")
    team_ids: list[str]
    session_id: str | None = Field(description="The login session of an access token; null for an API key")
    mfa_at: float | None = Field(description="When this session last passed a second factor (epoch seconds)")
