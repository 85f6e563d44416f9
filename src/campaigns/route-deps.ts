/** What the campaign routes are given by app.ts (one object for the feature's three route files). */
import type { AuthService } from '../auth/service.js';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';

export interface CampaignRouteDeps {
  readonly auth: AuthService;
  readonly db: Db;
  readonly log: Logger;
}
