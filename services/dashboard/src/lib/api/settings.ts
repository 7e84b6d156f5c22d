/**
 * Where the dashboard keeps its connection settings: the API URL and the API key, in the browser's
 * localStorage. Pure functions over a storage-like object so they test without a browser.
 * @module
 */

/** The part of `Storage` used here. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** What the dashboard connects with. `apiUrl` is empty for "this page's own origin". */
export interface ConnectionSettings {
  readonly apiUrl: string;
  readonly apiKey: string | null;
}

export const STORAGE_KEYS = {
  apiUrl: "aetherium.apiUrl",
  apiKey: "aetherium.apiKey",
  theme: "aetherium.theme",
} as const;

/** Reads the saved settings; nothing saved means the page's origin and no key. */
export function loadSettings(store: KeyValueStore | undefined): ConnectionSettings {
  if (!store) return { apiUrl: "", apiKey: null };
  const key = store.getItem(STORAGE_KEYS.apiKey);
  return {
    apiUrl: store.getItem(STORAGE_KEYS.apiUrl) ?? "",
    apiKey: key && key.trim() !== "" ? key : null,
  };
}

/** Saves the settings; an empty URL or a null key removes the entry. */
export function saveSettings(store: KeyValueStore, settings: ConnectionSettings): void {
  const url = normalizeApiUrl(settings.apiUrl);
  if (url === "") store.removeItem(STORAGE_KEYS.apiUrl);
  else store.setItem(STORAGE_KEYS.apiUrl, url);
  if (settings.apiKey === null || settings.apiKey.trim() === "")
    store.removeItem(STORAGE_KEYS.apiKey);
  else store.setItem(STORAGE_KEYS.apiKey, settings.apiKey.trim());
}

/** `http://host:8080/` → `http://host:8080`; a trailing `/api/v1` is dropped too. */
export function normalizeApiUrl(url: string): string {
  return url
    .trim()
    .replace(/\/+$/, "")
    .replace(/\/api\/v1$/, "");
}

/** True for an empty URL (same origin) or an absolute http(s) URL. */
export function isValidApiUrl(url: string): boolean {
  const u = normalizeApiUrl(url);
  if (u === "") return true;
  try {
    const parsed = new URL(u);
    return parsed.protocol === "http:" || parsed.protocol === "https:";
  } catch {
    return false;
  }
}

/** The base URL requests go to: the saved one, else the page's origin. */
export function effectiveApiUrl(settings: ConnectionSettings, origin: string): string {
  const u = normalizeApiUrl(settings.apiUrl);
  return u === "" ? origin : u;
}
