/** The tenant prompts and sessions act in: the installation's one tenant until API keys carry tenants. */
export const DEFAULT_TENANT = "default";
