import { BadRequestError, ConflictError, NotFoundError, ValidationError } from "@aetherium/common";
import {
  createEnvironmentBodySchema,
  ENVIRONMENT_DEFAULTS,
  environmentSchema,
  updateEnvironmentBodySchema,
  type CreateEnvironmentBody,
  type Environment,
  type UpdateEnvironmentBody,
} from "@aetherium/types";
import type { Page } from "../storage/cursor.js";
import { isUniqueViolation } from "../storage/errors.js";
import type { Repositories } from "../storage/repositories/create-repositories.js";
import type { EnvironmentRow, EnvironmentValues } from "../storage/repositories/environments.js";

/** The API shape of an environment row. */
export function toEnvironment(row: EnvironmentRow): Environment {
  return environmentSchema.parse({
    id: row.id,
    name: row.name,
    description: row.description ?? "",
    backend: row.backend,
    image: row.image,
    vcpus: row.vcpus,
    memoryMb: row.memoryMb,
    diskMb: row.diskMb,
    repo: row.gitRepoUrl
      ? {
          url: row.gitRepoUrl,
          ...(row.gitBranch ? { branch: row.gitBranch } : {}),
          dir: row.workingDirectory,
          ...(row.gitTokenSecret ? { tokenSecret: row.gitTokenSecret } : {}),
        }
      : null,
    tools: row.tools,
    env: row.envVars,
    secrets: row.secretNames,
    mcpServers: row.mcpServers,
    setup: row.setup,
    agent: row.agent,
    idleTimeoutSec: row.idleTimeoutSec,
    network: row.network,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  });
}

/** Maps API fields onto columns; only the fields present in `body`. */
function toValues(body: UpdateEnvironmentBody): Partial<EnvironmentValues> {
  const values: { -readonly [K in keyof EnvironmentValues]?: EnvironmentValues[K] } = {};
  if (body.name !== undefined) values.name = body.name;
  if (body.description !== undefined) values.description = body.description;
  if (body.backend !== undefined) values.backend = body.backend;
  if (body.image !== undefined) values.image = body.image;
  if (body.vcpus !== undefined) values.vcpus = body.vcpus;
  if (body.memoryMb !== undefined) values.memoryMb = body.memoryMb;
  if (body.diskMb !== undefined) values.diskMb = body.diskMb;
  if (body.repo !== undefined) {
    values.gitRepoUrl = body.repo?.url ?? null;
    values.gitBranch = body.repo?.branch ?? null;
    values.gitTokenSecret = body.repo?.tokenSecret ?? null;
    values.workingDirectory = body.repo?.dir ?? ENVIRONMENT_DEFAULTS.workingDirectory;
  }
  if (body.tools !== undefined) values.tools = body.tools;
  if (body.env !== undefined) values.envVars = body.env;
  if (body.secrets !== undefined) values.secretNames = body.secrets;
  if (body.mcpServers !== undefined) values.mcpServers = body.mcpServers;
  if (body.setup !== undefined) values.setup = body.setup;
  if (body.agent !== undefined) values.agent = body.agent;
  if (body.idleTimeoutSec !== undefined) values.idleTimeoutSec = body.idleTimeoutSec;
  if (body.network !== undefined) values.network = body.network;
  return values;
}

/**
 * The repository's token secret must be one the environment names, so a workspace never gets a
 * secret it was not given (and the mistake shows at once, not at the clone).
 */
function checkTokenSecret(env: Pick<Environment, "repo" | "secrets">): void {
  const token = env.repo?.tokenSecret;
  if (token && !env.secrets.includes(token)) {
    throw new BadRequestError(
      `invalid request body: repo.tokenSecret: "${token}" must also be listed in secrets`,
      {
        details: [
          { path: "repo.tokenSecret", message: `"${token}" must also be listed in secrets` },
        ],
      },
    );
  }
}

/** Environments: validated at the edge, names unique per tenant. */
export class EnvironmentService {
  constructor(private readonly repos: Repositories) {}

  /** Records a new environment (`201`). */
  async create(body: unknown, tenant = "default"): Promise<Environment> {
    const parsed = createEnvironmentBodySchema.safeParse(body ?? {});
    if (!parsed.success) throw new ValidationError(parsed.error, "request body");
    const req: CreateEnvironmentBody = parsed.data;
    checkTokenSecret(req);
    try {
      const row = await this.repos.environments.create(
        {
          ...(toValues(req) as EnvironmentValues),
          workingDirectory: req.repo?.dir ?? ENVIRONMENT_DEFAULTS.workingDirectory,
          gitRepoUrl: req.repo?.url ?? null,
          gitBranch: req.repo?.branch ?? null,
          gitTokenSecret: req.repo?.tokenSecret ?? null,
        },
        tenant,
      );
      return toEnvironment(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError(`an environment named "${req.name}" already exists`);
      throw err;
    }
  }

  /** By id or name; NotFoundError when there is none. */
  async get(idOrName: string, tenant = "default"): Promise<Environment> {
    const row = await this.repos.environments.find(idOrName, tenant);
    if (!row) throw new NotFoundError("environment", idOrName);
    return toEnvironment(row);
  }

  /** Newest first. */
  async list(
    options: { limit?: number; cursor?: string } = {},
    tenant = "default",
  ): Promise<Page<Environment>> {
    const page = await this.repos.environments.list({ ...options, tenant });
    return { items: page.items.map(toEnvironment), nextCursor: page.nextCursor };
  }

  /** Replaces the given fields; the result is validated as a whole (a token secret it names). */
  async update(idOrName: string, body: unknown, tenant = "default"): Promise<Environment> {
    const parsed = updateEnvironmentBodySchema.safeParse(body ?? {});
    if (!parsed.success) throw new ValidationError(parsed.error, "request body");
    const current = await this.get(idOrName, tenant);
    checkTokenSecret({
      repo: parsed.data.repo === undefined ? current.repo : parsed.data.repo,
      secrets: parsed.data.secrets ?? current.secrets,
    });
    try {
      const row = await this.repos.environments.update(current.id, toValues(parsed.data), tenant);
      if (!row) throw new NotFoundError("environment", idOrName);
      return toEnvironment(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError(`an environment named "${parsed.data.name}" already exists`);
      throw err;
    }
  }

  /** Deletes it; workspaces made from it keep working from their snapshot. */
  async delete(idOrName: string, tenant = "default"): Promise<void> {
    const current = await this.get(idOrName, tenant);
    await this.repos.environments.delete(current.id, tenant);
  }
}
