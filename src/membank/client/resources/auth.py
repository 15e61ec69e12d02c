"""client.auth (accounts' logins, tokens, MFA, the tenant's policy) and client.well_known."""

from __future__ import annotations

from typing import Any

from membank.client.endpoint import Parts, Resource, TransportT, body, endpoint
from membank.client.resources.answers import as_json

__all__ = ["Auth", "WellKnown"]


class Auth(Resource[TransportT]):
    @endpoint("POST", "/api/v1/auth/login", as_json)
    def login(
        self,
        tenant: str,
        email: str,
        password: str,
        *,
        totp_code: str | None = None,
        recovery_code: str | None = None,
        device: str | None = None,
    ) -> Parts:
        """Log in: an access token and a refresh token (use the access token as `MemBank(token=...)`)."""
        return Parts(
            json=body(
                tenant=tenant,
                email=email,
                password=password,
                totp_code=totp_code,
                recovery_code=recovery_code,
                device=device,
            )
        )

    @endpoint("POST", "/api/v1/auth/logout", as_json)
    def logout(self) -> Parts:
        """End the caller's login session."""
        return Parts()

    @endpoint("POST", "/api/v1/auth/refresh", as_json)
    def refresh(self, refresh_token: str) -> Parts:
        """New tokens for a refresh token (which is used up)."""
        return Parts(json={"refresh_token": refresh_token})

    @endpoint("POST", "/api/v1/auth/register", as_json)
    def register(self, tenant: str, email: str, password: str, *, display_name: str | None = None) -> Parts:
        """Self-registration, where the tenant's policy allows it."""
        return Parts(json=body(tenant=tenant, email=email, password=password, display_name=display_name))

    @endpoint("GET", "/api/v1/auth/me", as_json)
    def me(self) -> Parts:
        """Who the caller is: tenant, subject, roles, scopes."""
        return Parts()

    @endpoint("POST", "/api/v1/auth/password", as_json)
    def password(self, current_password: str, new_password: str) -> Parts:
        """Change the caller's password."""
        return Parts(json={"current_password": current_password, "new_password": new_password})

    @endpoint("GET", "/api/v1/auth/policy", as_json)
    def policy_get(self) -> Parts:
        """The tenant's login and registration policy."""
        return Parts()

    @endpoint("PUT", "/api/v1/auth/policy", as_json)
    def policy_set(self, /, **policy: Any) -> Parts:
        """Set the tenant's policy: allow_registration, registration_email_domains, registration_role,
        mfa_required."""
        return Parts(json=policy)

    @endpoint("POST", "/api/v1/auth/mfa/enrol", as_json)
    def mfa_enrol(self) -> Parts:
        """Start TOTP enrolment: the secret and its otpauth URI."""
        return Parts()

    @endpoint("POST", "/api/v1/auth/mfa/activate", as_json)
    def mfa_activate(self, code: str) -> Parts:
        """Confirm enrolment with a current code: the recovery codes (shown once)."""
        return Parts(json={"code": code})

    @endpoint("POST", "/api/v1/auth/mfa/disable", as_json)
    def mfa_disable(self, code: str) -> Parts:
        return Parts(json={"code": code})

    @endpoint("POST", "/api/v1/auth/step-up", as_json)
    def step_up(self, *, totp_code: str | None = None, recovery_code: str | None = None) -> Parts:
        """Confirm a sensitive act with a current code: a fresh access token."""
        return Parts(json=body(totp_code=totp_code, recovery_code=recovery_code))

    @endpoint("GET", "/api/v1/auth/sessions", as_json)
    def sessions(self) -> Parts:
        """The caller's live login sessions (an admin's: the tenant's)."""
        return Parts()

    @endpoint("DELETE", "/api/v1/auth/sessions/{login_session_id}", as_json)
    def delete_session(self, login_session_id: str) -> Parts:
        """End one login session."""
        return Parts(path={"login_session_id": login_session_id})


class WellKnown(Resource[TransportT]):
    @endpoint("GET", "/.well-known/jwks.json", as_json)
    def jwks(self) -> Parts:
        """The public keys that verify access tokens (JWKS)."""
        return Parts()
