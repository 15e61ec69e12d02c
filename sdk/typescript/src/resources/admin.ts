/** Running the service: roles, teams, service accounts, tenants, IP rules, usage, diagnostics and health. */
import { ENDPOINTS } from "../endpoints.js";
import type { RequestOptions } from "../transport.js";
import type { BodyOf } from "../types.js";
import { type CallOptions, Resource } from "./base.js";

const R = ENDPOINTS.roles;
const T = ENDPOINTS.teams;
const S = ENDPOINTS.serviceAccounts;
const I = ENDPOINTS.ipRules;
const D = ENDPOINTS.admin;
const H = ENDPOINTS.health;

export class Roles extends Resource {
  list(options?: RequestOptions) {
    return this.call(R.list, {}, options);
  }
  create(body: BodyOf<typeof R.create>, options?: RequestOptions) {
    return this.call(R.create, { body }, options);
  }
  update(name: string, body: BodyOf<typeof R.update>, options?: RequestOptions) {
    return this.call(R.update, { path: { name }, body }, options);
  }
  delete(name: string, options?: RequestOptions) {
    return this.call(R.delete, { path: { name } }, options);
  }
}

export class Teams extends Resource {
  list(options?: RequestOptions) {
    return this.call(T.list, {}, options);
  }
  create(body: BodyOf<typeof T.create>, options?: RequestOptions) {
    return this.call(T.create, { body }, options);
  }
  delete(teamId: string, options?: RequestOptions) {
    return this.call(T.delete, { path: { team_id: teamId } }, options);
  }
  members(teamId: string, options?: RequestOptions) {
    return this.call(T.members, { path: { team_id: teamId } }, options);
  }
  addMember(teamId: string, userId: string, options?: RequestOptions) {
    return this.call(T.addMember, { path: { team_id: teamId, user_id: userId } }, options);
  }
  removeMember(teamId: string, userId: string, options?: RequestOptions) {
    return this.call(T.removeMember, { path: { team_id: teamId, user_id: userId } }, options);
  }
}

export class ServiceAccounts extends Resource {
  list(options?: RequestOptions) {
    return this.call(S.list, {}, options);
  }
  create(body: BodyOf<typeof S.create>, options?: RequestOptions) {
    return this.call(S.create, { body }, options);
  }
  get(serviceAccountId: string, options?: RequestOptions) {
    return this.call(S.get, { path: { service_account_id: serviceAccountId } }, options);
  }
  disable(serviceAccountId: string, options?: RequestOptions) {
    return this.call(S.disable, { path: { service_account_id: serviceAccountId } }, options);
  }
}

export class Tenants extends Resource {
  list(options?: RequestOptions) {
    return this.call(ENDPOINTS.tenants.list, {}, options);
  }
  create(body: BodyOf<typeof ENDPOINTS.tenants.create>, options?: RequestOptions) {
    return this.call(ENDPOINTS.tenants.create, { body }, options);
  }
}

/** IP allow and deny rules, of the caller's tenant or (`scope: "platform"`) of the whole service. */
export class IpRules extends Resource {
  list(options?: CallOptions<typeof I.list>) {
    return this.call(I.list, {}, options);
  }
  create(body: BodyOf<typeof I.create>, options?: CallOptions<typeof I.create>) {
    return this.call(I.create, { body }, options);
  }
  delete(ruleId: string, options?: CallOptions<typeof I.delete>) {
    return this.call(I.delete, { path: { rule_id: ruleId } }, options);
  }
}

export class Admin extends Resource {
  usage(options?: CallOptions<typeof D.usage>) {
    return this.call(D.usage, {}, options);
  }
  usageMonthly(options?: CallOptions<typeof D.usageMonthly>) {
    return this.call(D.usageMonthly, {}, options);
  }
  capacity(options?: RequestOptions) {
    return this.call(D.capacity, {}, options);
  }
  diagnostics(options?: RequestOptions) {
    return this.call(D.diagnostics, {}, options);
  }
  repair(options?: RequestOptions) {
    return this.call(D.repair, {}, options);
  }
}

export class Usage extends Resource {
  /** Tokens and cost of the chat LLM's calls. */
  llm(options?: CallOptions<typeof ENDPOINTS.usage.llm>) {
    return this.call(ENDPOINTS.usage.llm, {}, options);
  }
}

export class SecurityEvents extends Resource {
  list(options?: CallOptions<typeof ENDPOINTS.securityEvents.list>) {
    return this.call(ENDPOINTS.securityEvents.list, {}, options);
  }
}

export class Health extends Resource {
  health(options?: RequestOptions) {
    return this.call(H.health, {}, options);
  }
  live(options?: RequestOptions) {
    return this.call(H.live, {}, options);
  }
  /** Whether the service takes traffic; a NotReady error when it does not. */
  ready(options?: RequestOptions) {
    return this.call(H.ready, {}, options);
  }
  /** The Prometheus metrics, as text. */
  metrics(options?: RequestOptions) {
    return this.call(H.metrics, {}, options);
  }
}
