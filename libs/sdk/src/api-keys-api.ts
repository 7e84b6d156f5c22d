import {
  apiKeySchema,
  createApiKeyResponseSchema,
  pageSchema,
  type ApiKey,
  type ApiKeyScope,
  type CreateApiKeyResponse,
  type Page,
} from "@aetherium/types";
import { pageQuery, type ListOptions } from "./list-options.js";
import { seg, type Transport } from "./transport.js";

/** `client.apiKeys`: API keys (admin scope). */
export class ApiKeysApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Creates a key; `secret` is shown this one time only. Scopes default to read + write;
   * `format: "e2b"` shapes the secret `e2b_` + hex, as the `e2b` SDKs expect `E2B_API_KEY`.
   */
  create(
    body: { name: string; scopes?: readonly ApiKeyScope[]; format?: "aetherium" | "e2b" },
    options: { signal?: AbortSignal } = {},
  ): Promise<CreateApiKeyResponse> {
    return this.#t.requestChecked(createApiKeyResponseSchema, "POST", "/api-keys", {
      body: {
        name: body.name,
        ...(body.scopes && { scopes: [...body.scopes] }),
        ...(body.format && { format: body.format }),
      },
      signal: options.signal,
    });
  }

  /** One page of keys (metadata only, never secrets). */
  list(options: ListOptions = {}): Promise<Page<ApiKey>> {
    return this.#t.requestChecked(pageSchema(apiKeySchema), "GET", "/api-keys", {
      query: pageQuery(options),
      signal: options.signal,
    });
  }

  /** Revokes key `id`: requests with it fail with `AuthError` from now on. */
  async revoke(id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#t.request("DELETE", `/api-keys/${seg(id)}`, { signal: options.signal });
  }
}
