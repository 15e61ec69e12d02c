import { Admin, Health, IpRules, Roles, SecurityEvents, ServiceAccounts, Teams, Tenants, Usage } from "./resources/admin.js";
import { Accounts, Auth, Keys, WellKnown } from "./resources/identity.js";
import { Batches, Jobs, Memories, Users } from "./resources/memories.js";
import { type ClientOptions, Transport } from "./transport.js";

/**
 * A client of the MemBank API: one sub-client per resource, every method answering the envelope's `data`
 * and throwing a MemBankError subclass for an error envelope.
 */
export class MemBank {
  readonly memories: Memories;
  readonly jobs: Jobs;
  readonly batches: Batches;
  readonly users: Users;
  readonly keys: Keys;
  readonly auth: Auth;
  readonly wellKnown: WellKnown;
  readonly accounts: Accounts;
  readonly roles: Roles;
  readonly teams: Teams;
  readonly serviceAccounts: ServiceAccounts;
  readonly tenants: Tenants;
  readonly ipRules: IpRules;
  readonly admin: Admin;
  readonly usage: Usage;
  readonly securityEvents: SecurityEvents;
  readonly health: Health;

  // A private field (#) stays out of console.log and util.inspect: it holds the credentials.
  readonly #options: ClientOptions;

  constructor(options: ClientOptions) {
    this.#options = options;
    const transport = new Transport(options);
    this.memories = new Memories(transport);
    this.jobs = new Jobs(transport);
    this.batches = new Batches(transport);
    this.users = new Users(transport);
    this.keys = new Keys(transport);
    this.auth = new Auth(transport);
    this.wellKnown = new WellKnown(transport);
    this.accounts = new Accounts(transport);
    this.roles = new Roles(transport);
    this.teams = new Teams(transport);
    this.serviceAccounts = new ServiceAccounts(transport);
    this.tenants = new Tenants(transport);
    this.ipRules = new IpRules(transport);
    this.admin = new Admin(transport);
    this.usage = new Usage(transport);
    this.securityEvents = new SecurityEvents(transport);
    this.health = new Health(transport);
  }

  /** The same client with other credentials, e.g. the access token a login answered. */
  withAuth(credentials: { apiKey: string } | { bearerToken: string }): MemBank {
    const { apiKey: _apiKey, bearerToken: _bearerToken, ...rest } = this.#options;
    return new MemBank({ ...rest, ...credentials });
  }
}
