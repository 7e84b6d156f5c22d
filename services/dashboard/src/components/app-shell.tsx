"use client";
/** The frame around every page: sidebar navigation, live status, theme, and the login gate. */
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { isValidApiUrl } from "../lib/api/settings.js";
import { useLive, useSession, useTheme } from "./providers.js";
import { Icon } from "./ui.js";

const NAV: { section?: string; href: string; label: string; icon: string }[] = [
  { href: "/", label: "Overview", icon: "overview" },
  { href: "/sandboxes/", label: "Sandboxes", icon: "sandboxes" },
  { href: "/console/", label: "Console", icon: "console" },
  { href: "/tasks/", label: "Tasks", icon: "tasks" },
  { href: "/workers/", label: "Workers", icon: "workers" },
  { section: "Agents", href: "/environments/", label: "Environments", icon: "environments" },
  { href: "/workspaces/", label: "Workspaces", icon: "workspaces" },
  { href: "/prompts/", label: "Prompts", icon: "prompts" },
  { href: "/integrations/", label: "Integrations", icon: "integrations" },
  { section: "Access", href: "/api-keys/", label: "API keys", icon: "keys" },
  { href: "/api-explorer/", label: "API explorer", icon: "api" },
  { href: "/settings/", label: "Settings", icon: "settings" },
];

function normalize(p: string): string {
  return p.endsWith("/") ? p : `${p}/`;
}

function isCurrent(pathname: string, href: string): boolean {
  const p = normalize(pathname);
  return href === "/" ? p === "/" : p.startsWith(href);
}

export function LiveIndicator() {
  const { state } = useLive();
  const text =
    state === "open" ? "Live" : state === "connecting" ? "Reconnecting…" : "Offline — polling";
  return (
    <span
      className={`live ${state}`}
      title="Live updates from the /events stream"
      data-live-state={state}
    >
      <span className="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

function ThemeToggle() {
  const { theme, toggle } = useTheme();
  return (
    <button
      type="button"
      className="btn ghost small"
      onClick={toggle}
      aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
    >
      <Icon name={theme === "dark" ? "sun" : "moon"} size={14} />
      {theme === "dark" ? "Light" : "Dark"}
    </button>
  );
}

function Sidebar({ onNavigate }: { onNavigate: () => void }) {
  const pathname = usePathname() ?? "/";
  const { baseUrl, logout } = useSession();
  return (
    <nav className="sidebar" aria-label="Main">
      <Link href="/" className="brand" onClick={onNavigate}>
        <span className="brand-mark" aria-hidden="true">
          A
        </span>
        Aetherium
      </Link>
      {NAV.map((item) => (
        <div key={item.href}>
          {item.section && <div className="nav-section">{item.section}</div>}
          <Link
            href={item.href}
            className="nav-link"
            aria-current={isCurrent(pathname, item.href) ? "page" : undefined}
            onClick={onNavigate}
          >
            <Icon name={item.icon} />
            {item.label}
          </Link>
        </div>
      ))}
      <div className="sidebar-foot">
        <LiveIndicator />
        <span className="mono small" title="API URL" style={{ overflowWrap: "anywhere" }}>
          {baseUrl.replace(/^https?:\/\//, "")}
        </span>
        <div className="row">
          <ThemeToggle />
          <button type="button" className="btn ghost small" onClick={() => logout()}>
            Sign out
          </button>
        </div>
      </div>
    </nav>
  );
}

export function LoginScreen() {
  const { login, notice, settings } = useSession();
  const [key, setKey] = useState("");
  const [url, setUrl] = useState(settings.apiUrl);
  const [advanced, setAdvanced] = useState(settings.apiUrl !== "");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!key.trim()) return setError("Paste an API key.");
    if (!isValidApiUrl(url)) return setError("The API URL must start with http:// or https://");
    setBusy(true);
    setError(null);
    try {
      await login(key, url);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login-wrap">
      <div className="card login-card">
        <div className="brand" style={{ padding: 0 }}>
          <span className="brand-mark" aria-hidden="true">
            A
          </span>
          Aetherium
        </div>
        <h1 style={{ marginTop: 18 }}>Sign in</h1>
        <p className="muted" style={{ margin: "6px 0 0" }}>
          Use an API key of this Aetherium. <code>npm start</code> prints the admin key on first
          start and keeps it in <code>.aetherium/admin.key</code>.
        </p>
        {notice && (
          <div className="banner warn" role="alert" style={{ marginTop: 16, marginBottom: 0 }}>
            {notice}
          </div>
        )}
        <form onSubmit={(e) => void submit(e)} noValidate>
          <label className="field">
            API key
            <input
              name="apiKey"
              type="password"
              autoComplete="current-password"
              autoFocus
              value={key}
              onChange={(e) => setKey(e.target.value)}
              placeholder="ak_…"
              aria-invalid={error ? true : undefined}
            />
          </label>
          {advanced ? (
            <label className="field">
              API URL <span className="field-hint">empty: this page&apos;s own address</span>
              <input
                name="apiUrl"
                value={url}
                onChange={(e) => setUrl(e.target.value)}
                placeholder={typeof window === "undefined" ? "" : window.location.origin}
              />
            </label>
          ) : (
            <button
              type="button"
              className="btn ghost small"
              style={{ alignSelf: "flex-start" }}
              onClick={() => setAdvanced(true)}
            >
              Use another API URL…
            </button>
          )}
          {error && (
            <div className="field-error" role="alert">
              {error}
            </div>
          )}
          <button type="submit" className="btn primary" disabled={busy}>
            {busy ? "Checking the key…" : "Sign in"}
          </button>
        </form>
      </div>
    </main>
  );
}

export function AppShell({ children }: { children: ReactNode }) {
  const { ready, api } = useSession();
  const [navOpen, setNavOpen] = useState(false);
  const pathname = usePathname();
  useEffect(() => setNavOpen(false), [pathname]);
  useEffect(() => {
    if (!navOpen) return;
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setNavOpen(false);
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [navOpen]);

  if (!ready) {
    return (
      <div className="splash" aria-busy="true">
        Loading Aetherium…
      </div>
    );
  }
  if (!api) return <LoginScreen />;
  return (
    <div className={`app${navOpen ? " nav-open" : ""}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Sidebar onNavigate={() => setNavOpen(false)} />
      {navOpen && (
        <div className="nav-backdrop" aria-hidden="true" onClick={() => setNavOpen(false)} />
      )}
      <div className="main">
        <header className="topbar">
          <button
            type="button"
            className="btn icon-btn"
            aria-label="Open navigation"
            aria-expanded={navOpen}
            onClick={() => setNavOpen((o) => !o)}
          >
            <Icon name="menu" />
          </button>
          <strong>Aetherium</strong>
          <span className="spacer" />
          <LiveIndicator />
        </header>
        <main id="main" className="content" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}
