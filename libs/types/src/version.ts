/** The platform version reported by the API, the CLI and the worker. */
export const AETHERIUM_VERSION = "0.1.0";
