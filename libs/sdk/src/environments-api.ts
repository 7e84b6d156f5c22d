import {
  environmentResponseSchema,
  environmentSchema,
  pageSchema,
  type createEnvironmentBodySchema,
  type Environment,
  type Page,
  type UpdateEnvironmentBody,
} from "@aetherium/types";
import type { z } from "zod";
import { pageQuery, type ListOptions } from "./list-options.js";
import { seg, type Transport } from "./transport.js";

/** A create-environment request: `name` and `agent` required, the rest defaulted by the server. */
export type CreateEnvironmentRequest = z.input<typeof createEnvironmentBodySchema>;

/** `client.environments`: workspace templates. `idOrName` takes an id or a name. */
export class EnvironmentsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Creates an environment; the server validates every field (`ValidationError` names it). */
  async create(
    body: CreateEnvironmentRequest,
    options: { signal?: AbortSignal } = {},
  ): Promise<Environment> {
    const res = await this.#t.requestChecked(environmentResponseSchema, "POST", "/environments", {
      body,
      signal: options.signal,
    });
    return res.environment;
  }

  /** One page of environments, newest first. */
  list(options: ListOptions = {}): Promise<Page<Environment>> {
    return this.#t.requestChecked(pageSchema(environmentSchema), "GET", "/environments", {
      query: pageQuery(options),
      signal: options.signal,
    });
  }

  /** One environment by id or name. */
  async get(idOrName: string, options: { signal?: AbortSignal } = {}): Promise<Environment> {
    const res = await this.#t.requestChecked(
      environmentResponseSchema,
      "GET",
      `/environments/${seg(idOrName)}`,
      { signal: options.signal },
    );
    return res.environment;
  }

  /** Replaces the fields given (lists and maps whole; `null` clears). */
  async update(
    idOrName: string,
    body: UpdateEnvironmentBody,
    options: { signal?: AbortSignal } = {},
  ): Promise<Environment> {
    const res = await this.#t.requestChecked(
      environmentResponseSchema,
      "PUT",
      `/environments/${seg(idOrName)}`,
      { body, signal: options.signal },
    );
    return res.environment;
  }

  /** Deletes it; workspaces made from it keep working. */
  async delete(idOrName: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#t.request("DELETE", `/environments/${seg(idOrName)}`, { signal: options.signal });
  }
}
