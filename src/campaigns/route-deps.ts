/** What the campaign routes are given by app.ts (one object for the feature's three route files). */
import type { AuthService } from '../auth/service.js';
import type { Db } from '../db/database.js';
import type { EventPublisher } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { ImportService } from './import-service.js';
import type { PreviewDialer } from './preview.js';

export interface CampaignRouteDeps {
  readonly auth: AuthService;
  readonly db: Db;
  readonly log: Logger;
  /** campaign.state events after each lifecycle change (routes.ts). */
  readonly events: EventPublisher;
  /** The site's time zone (PBX_TIMEZONE): the default of the outbound reports' `tz`. */
  readonly timezone: string;
  /** Contact and do-not-call list imports (list-routes.ts, dnc-routes.ts). */
  readonly imports: ImportService;
  /** Preview mode's offers (preview-routes.ts): the dialer's, null when no dialer runs here. */
  readonly preview?: () => PreviewDialer | null;
}
