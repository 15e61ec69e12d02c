/** Who calls: API keys, logins and their sessions, human accounts, and the JWKS that verifies tokens. */
import { ENDPOINTS } from "../endpoints.js";
import type { RequestOptions } from "../transport.js";
import type { BodyOf } from "../types.js";
import { type CallOptions, Resource } from "./base.js";

const K = ENDPOINTS.keys;
const A = ENDPOINTS.auth;
const C = ENDPOINTS.accounts;

export class Keys extends Resource {
  /** Issue a key: the answer carries its secret, shown this once. */
  create(body: BodyOf<typeof K.create>, options?: RequestOptions) {
    return this.call(K.create, { body }, options);
  }
  list(options?: RequestOptions) {
    return this.call(K.list, {}, options);
  }
  get(keyId: string, options?: RequestOptions) {
    return this.call(K.get, { path: { key_id: keyId } }, options);
  }
  delete(keyId: string, options?: RequestOptions) {
    return this.call(K.delete, { path: { key_id: keyId } }, options);
  }
  revoke(keyId: string, options?: RequestOptions) {
    return this.call(K.revoke, { path: { key_id: keyId } }, options);
  }
  /** A new secret for the key; the old one keeps working for the grace period the body asks for. */
  rotate(keyId: string, body: BodyOf<typeof K.rotate> = {}, options?: RequestOptions) {
    return this.call(K.rotate, { path: { key_id: keyId }, body }, options);
  }
  usage(keyId: string, options?: CallOptions<typeof K.usage>) {
    return this.call(K.usage, { path: { key_id: keyId } }, options);
  }
}

export class Auth extends Resource {
  login(body: BodyOf<typeof A.login>, options?: RequestOptions) {
    return this.call(A.login, { body }, options);
  }
  logout(options?: RequestOptions) {
    return this.call(A.logout, {}, options);
  }
  refresh(body: BodyOf<typeof A.refresh>, options?: RequestOptions) {
    return this.call(A.refresh, { body }, options);
  }
  register(body: BodyOf<typeof A.register>, options?: RequestOptions) {
    return this.call(A.register, { body }, options);
  }
  me(options?: RequestOptions) {
    return this.call(A.me, {}, options);
  }
  password(body: BodyOf<typeof A.password>, options?: RequestOptions) {
    return this.call(A.password, { body }, options);
  }
  policyGet(options?: RequestOptions) {
    return this.call(A.policyGet, {}, options);
  }
  policySet(body: BodyOf<typeof A.policySet>, options?: RequestOptions) {
    return this.call(A.policySet, { body }, options);
  }
  mfaEnrol(options?: RequestOptions) {
    return this.call(A.mfaEnrol, {}, options);
  }
  mfaActivate(body: BodyOf<typeof A.mfaActivate>, options?: RequestOptions) {
    return this.call(A.mfaActivate, { body }, options);
  }
  mfaDisable(body: BodyOf<typeof A.mfaDisable>, options?: RequestOptions) {
    return this.call(A.mfaDisable, { body }, options);
  }
  stepUp(body: BodyOf<typeof A.stepUp>, options?: RequestOptions) {
    return this.call(A.stepUp, { body }, options);
  }
  sessions(options?: RequestOptions) {
    return this.call(A.sessions, {}, options);
  }
  deleteSession(loginSessionId: string, options?: RequestOptions) {
    return this.call(A.deleteSession, { path: { login_session_id: loginSessionId } }, options);
  }
}

export class WellKnown extends Resource {
  /** The public keys that verify access tokens. */
  jwks(options?: RequestOptions) {
    return this.call(ENDPOINTS.wellKnown.jwks, {}, options);
  }
}

export class Accounts extends Resource {
  list(options?: CallOptions<typeof C.list>) {
    return this.call(C.list, {}, options);
  }
  create(body: BodyOf<typeof C.create>, options?: RequestOptions) {
    return this.call(C.create, { body }, options);
  }
  get(accountId: string, options?: RequestOptions) {
    return this.call(C.get, { path: { account_id: accountId } }, options);
  }
  update(accountId: string, body: BodyOf<typeof C.update>, options?: RequestOptions) {
    return this.call(C.update, { path: { account_id: accountId }, body }, options);
  }
  /** Disable an account (the API's DELETE). */
  delete(accountId: string, options?: RequestOptions) {
    return this.call(C.delete, { path: { account_id: accountId } }, options);
  }
  resetMfa(accountId: string, options?: RequestOptions) {
    return this.call(C.resetMfa, { path: { account_id: accountId } }, options);
  }
  resetPassword(accountId: string, body: BodyOf<typeof C.resetPassword>, options?: RequestOptions) {
    return this.call(C.resetPassword, { path: { account_id: accountId }, body }, options);
  }
  /** End every login session of the account. */
  deleteSessions(accountId: string, options?: RequestOptions) {
    return this.call(C.deleteSessions, { path: { account_id: accountId } }, options);
  }
  unlock(accountId: string, options?: RequestOptions) {
    return this.call(C.unlock, { path: { account_id: accountId } }, options);
  }
}
