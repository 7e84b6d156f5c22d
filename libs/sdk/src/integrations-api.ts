import {
  integrationDeliverySchema,
  pageSchema,
  type IntegrationDelivery,
  type IntegrationName,
  type Page,
} from "@aetherium/types";
import { pageQuery, type ListOptions } from "./list-options.js";
import type { Transport } from "./transport.js";

/** `client.integrations`: what GitHub, Slack and Discord sent and what came of it (read scope). */
export class IntegrationsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** One page of deliveries, newest first; `integration` narrows to one provider. */
  deliveries(
    options: ListOptions & { integration?: IntegrationName } = {},
  ): Promise<Page<IntegrationDelivery>> {
    return this.#t.requestChecked(
      pageSchema(integrationDeliverySchema),
      "GET",
      "/integrations/deliveries",
      {
        query: { ...pageQuery(options), integration: options.integration },
        signal: options.signal,
      },
    );
  }
}
