import {
  secretMetadataSchema,
  secretResponseSchema,
  type SecretMetadata,
  type SecretType,
} from "@aetherium/types";
import { z } from "zod";
import { seg, type Transport } from "./transport.js";

/** A secret to set: `name` is the environment variable its value is delivered as. */
export interface SetSecretRequest {
  readonly name: string;
  readonly value: string;
  readonly type?: SecretType;
  readonly description?: string;
}

const secretListSchema = z.object({ items: z.array(secretMetadataSchema) });

/**
 * `client.secrets`: global secrets, offered to every workspace. Values are write-only: no call
 * returns one.
 */
export class SecretsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Adds a global secret, or replaces the value of one of the same name. */
  async set(
    body: SetSecretRequest,
    options: { signal?: AbortSignal } = {},
  ): Promise<SecretMetadata> {
    const res = await this.#t.requestChecked(secretResponseSchema, "POST", "/secrets", {
      body,
      signal: options.signal,
    });
    return res.secret;
  }

  /** The global secrets' metadata, by name. */
  async list(options: { signal?: AbortSignal } = {}): Promise<SecretMetadata[]> {
    const res = await this.#t.requestChecked(secretListSchema, "GET", "/secrets", {
      signal: options.signal,
    });
    return res.items;
  }

  /** Deletes a global secret by name. */
  async delete(name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#t.request("DELETE", `/secrets/${seg(name)}`, { signal: options.signal });
  }
}
