"use client";
import { useState, type FormEvent } from "react";
import { useTitle } from "../../components/hooks.js";
import { useApi, useSession, useTheme, useToast } from "../../components/providers.js";
import { PageHead } from "../../components/ui.js";
import { errorMessage } from "../../lib/api/api.js";
import { isValidApiUrl } from "../../lib/api/settings.js";

export default function SettingsPage() {
  useTitle("Settings");
  const { settings, baseUrl, updateSettings, logout } = useSession();
  const api = useApi();
  const { theme, toggle } = useTheme();
  const toast = useToast();
  const [url, setUrl] = useState(settings.apiUrl);
  const [key, setKey] = useState(settings.apiKey ?? "");
  const [show, setShow] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [check, setCheck] = useState<string | null>(null);

  const save = (e: FormEvent) => {
    e.preventDefault();
    if (!isValidApiUrl(url))
      return setError("The API URL must start with http:// or https://, or be empty.");
    if (!key.trim()) return setError("An API key is required; sign out instead to remove it.");
    setError(null);
    updateSettings({ apiUrl: url, apiKey: key });
    toast("Settings saved", "ok");
  };

  const test = async () => {
    setCheck("Checking…");
    const t0 = performance.now();
    try {
      const h = await api.health();
      setCheck(
        `Reached ${baseUrl} in ${Math.round(performance.now() - t0)} ms — status ${h.status}.`,
      );
    } catch (err) {
      setCheck(`Could not reach ${baseUrl}: ${errorMessage(err)}`);
    }
  };

  return (
    <>
      <PageHead title="Settings" subtitle="Kept in this browser only." />
      <div className="grid cols-2">
        <form className="card" onSubmit={save}>
          <div className="card-head">
            <h2>Connection</h2>
          </div>
          <div className="card-body stack">
            <label className="field">
              <span>
                API URL{" "}
                <span className="field-hint">
                  empty: this page&apos;s own address (
                  {typeof window === "undefined" ? "" : window.location.origin})
                </span>
              </span>
              <input
                name="apiUrl"
                value={url}
                onChange={(e) => setUrl(e.target.value)}
                placeholder="http://127.0.0.1:8080"
              />
            </label>
            <label className="field">
              API key
              <div className="row" style={{ flexWrap: "nowrap" }}>
                <input
                  name="apiKey"
                  type={show ? "text" : "password"}
                  value={key}
                  onChange={(e) => setKey(e.target.value)}
                  style={{ flex: 1 }}
                  autoComplete="off"
                />
                <button type="button" className="btn" onClick={() => setShow((s) => !s)}>
                  {show ? "Hide" : "Show"}
                </button>
              </div>
            </label>
            {error && (
              <div className="field-error" role="alert">
                {error}
              </div>
            )}
            {check && (
              <div className="banner" role="status">
                {check}
              </div>
            )}
            <div className="row">
              <button type="submit" className="btn primary">
                Save
              </button>
              <button type="button" className="btn" onClick={() => void test()}>
                Test connection
              </button>
              <span className="spacer" />
              <button type="button" className="btn danger" onClick={() => logout()}>
                Sign out
              </button>
            </div>
          </div>
        </form>
        <div className="card">
          <div className="card-head">
            <h2>Appearance</h2>
          </div>
          <div className="card-body stack">
            <div className="row">
              <span>
                Theme: <strong>{theme}</strong>
              </span>
              <span className="spacer" />
              <button type="button" className="btn" onClick={toggle}>
                Switch to {theme === "dark" ? "light" : "dark"}
              </button>
            </div>
            <p className="muted small" style={{ margin: 0 }}>
              The first visit follows the system&apos;s preference.
            </p>
          </div>
        </div>
      </div>
    </>
  );
}
