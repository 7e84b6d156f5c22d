"use client";
/**
 * App-wide state: the connection (API URL + key), the query cache, the live event stream that keeps
 * it fresh, the theme and toasts.
 */
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from "react";
import type { Page, Task, Vm, Worker, Workspace } from "@aetherium/types";
import { Api, errorMessage } from "../lib/api/api.js";
import {
  effectiveApiUrl,
  loadSettings,
  saveSettings,
  STORAGE_KEYS,
  type ConnectionSettings,
} from "../lib/api/settings.js";
import { classifyStreamError } from "../lib/live/stream-errors.js";
import {
  applyTaskToPage,
  applyVmToPage,
  applyStepToWorkspace,
  applyWorkerToList,
  applyWorkspaceToPage,
  eventSubject,
  type TaskFilter,
  type VmFilter,
} from "../lib/live/reducers.js";

// ---------------------------------------------------------------- session

export interface Session {
  readonly ready: boolean;
  readonly settings: ConnectionSettings;
  /** Where requests go: the saved API URL or this page's origin. */
  readonly baseUrl: string;
  readonly api: Api | null;
  /** Why the last logout happened (shown on the login screen). */
  readonly notice: string | null;
  readonly login: (apiKey: string, apiUrl: string) => Promise<void>;
  readonly logout: (notice?: string) => void;
  readonly updateSettings: (settings: ConnectionSettings) => void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside <Providers>");
  return s;
}

/** The API of a logged-in session (pages under the auth gate only). */
export function useApi(): Api {
  const { api } = useSession();
  if (!api) throw new Error("not logged in");
  return api;
}

function origin(): string {
  return typeof window === "undefined" ? "http://localhost" : window.location.origin;
}

function SessionProvider({ children }: { children: ReactNode }) {
  const [ready, setReady] = useState(false);
  const [settings, setSettings] = useState<ConnectionSettings>({ apiUrl: "", apiKey: null });
  const [notice, setNotice] = useState<string | null>(null);
  const queryClient = useQueryClient();

  useEffect(() => {
    setSettings(loadSettings(window.localStorage));
    setReady(true);
  }, []);

  const logout = useCallback(
    (why?: string) => {
      setSettings((s) => {
        const next = { ...s, apiKey: null };
        saveSettings(window.localStorage, next);
        return next;
      });
      setNotice(why ?? null);
      queryClient.clear();
    },
    [queryClient],
  );

  const baseUrl = effectiveApiUrl(settings, origin());
  const logoutRef = useRef(logout);
  logoutRef.current = logout;

  const api = useMemo(
    () =>
      settings.apiKey
        ? new Api({
            url: baseUrl,
            apiKey: settings.apiKey,
            onUnauthorized: () =>
              logoutRef.current("Your API key is no longer accepted. Sign in with a valid key."),
          })
        : null,
    [baseUrl, settings.apiKey],
  );

  const login = useCallback(async (apiKey: string, apiUrl: string) => {
    const key = apiKey.trim();
    const url = effectiveApiUrl({ apiUrl, apiKey: key }, origin());
    const probe = new Api({ url, apiKey: key });
    try {
      await probe.listVms({ limit: 1 });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 401) throw new Error("That key was not accepted by the gateway.");
      if (status === 403)
        throw new Error("That key may not read sandboxes (it needs the read scope).");
      throw new Error(errorMessage(err));
    }
    const next = { apiUrl, apiKey: key };
    saveSettings(window.localStorage, next);
    setSettings(loadSettings(window.localStorage));
    setNotice(null);
  }, []);

  const updateSettings = useCallback(
    (next: ConnectionSettings) => {
      saveSettings(window.localStorage, next);
      setSettings(loadSettings(window.localStorage));
      queryClient.clear();
    },
    [queryClient],
  );

  const value = useMemo<Session>(
    () => ({ ready, settings, baseUrl, api, notice, login, logout, updateSettings }),
    [ready, settings, baseUrl, api, notice, login, logout, updateSettings],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

// ---------------------------------------------------------------- live events

/** `connecting` (first try or retrying), `open`, `closed` (refused for good). */
export type StreamState = "connecting" | "open" | "closed";

export interface Live {
  readonly state: StreamState;
  readonly lastEventAt: number | null;
  /** A refetch interval for queries: off while the stream is open, a slow poll as fallback. */
  readonly fallbackInterval: number | false;
}

const LiveContext = createContext<Live>({
  state: "closed",
  lastEventAt: null,
  fallbackInterval: 10_000,
});

export function useLive(): Live {
  return useContext(LiveContext);
}

function LiveProvider({ children }: { children: ReactNode }) {
  const { api, logout } = useSession();
  const qc = useQueryClient();
  const [state, setState] = useState<StreamState>("closed");
  const [lastEventAt, setLastEventAt] = useState<number | null>(null);

  useEffect(() => {
    if (!api) return;
    let statsTimer: ReturnType<typeof setTimeout> | null = null;
    const refreshStats = () => {
      if (statsTimer) return;
      statsTimer = setTimeout(() => {
        statsTimer = null;
        void qc.invalidateQueries({ queryKey: ["cluster-stats"] });
        void qc.invalidateQueries({ queryKey: ["health"] });
      }, 400);
    };
    const unauthorized = "Your API key is no longer accepted. Sign in with a valid key.";
    let opens = 0;
    setState("connecting");
    const onEvent = (event: { type: string; at: string; data: unknown }) => {
      setLastEventAt(Date.now());
      const subject = eventSubject(event.type, event.data);
      if (subject.kind === "vm") {
        const { vm } = subject;
        for (const q of qc.getQueryCache().findAll({ queryKey: ["vms"] })) {
          const filter = (q.queryKey[1] ?? {}) as VmFilter;
          qc.setQueryData<Page<Vm>>(q.queryKey, (old) => applyVmToPage(old, vm, filter));
        }
        qc.setQueryData(["vm", vm.id], vm);
        refreshStats();
      } else if (subject.kind === "task") {
        const { task } = subject;
        for (const q of qc.getQueryCache().findAll({ queryKey: ["tasks"] })) {
          const filter = (q.queryKey[1] ?? {}) as TaskFilter;
          qc.setQueryData<Page<Task>>(q.queryKey, (old) => applyTaskToPage(old, task, filter));
        }
        qc.setQueryData(["task", task.id], task);
        if (task.type === "vm:execute" && task.vmId)
          void qc.invalidateQueries({ queryKey: ["executions", task.vmId] });
        refreshStats();
      } else if (subject.kind === "worker") {
        const { worker } = subject;
        qc.setQueryData<Page<Worker>>(["workers"], (old) => applyWorkerToList(old, worker));
        // A worker joining, draining or leaving changes which backends the fleet offers.
        void qc.invalidateQueries({ queryKey: ["backends"] });
        refreshStats();
      } else if (subject.kind === "workspace") {
        const { workspace, deleted } = subject;
        qc.setQueryData<Page<Workspace>>(["workspaces"], (old) =>
          applyWorkspaceToPage(old, workspace, deleted),
        );
        if (deleted) qc.removeQueries({ queryKey: ["workspace", workspace.id] });
        else qc.setQueryData(["workspace", workspace.id], workspace);
      } else if (subject.kind === "step") {
        const { workspaceId, step } = subject;
        qc.setQueryData<Workspace>(["workspace", workspaceId], (old) =>
          applyStepToWorkspace(old, step),
        );
      }
    };
    const subscription = api.subscribe(["vm.*", "task.*", "worker.*", "workspace.*"], onEvent, {
      onOpen: () => {
        opens++;
        setState("open");
        // Events sent while the stream was down are not replayed: refetch what is shown.
        if (opens > 1) void qc.invalidateQueries();
      },
      onError: (err) => {
        const action = classifyStreamError(err);
        if (action === "skip") return;
        if (action === "logout") logout(unauthorized);
        setState(action === "retry" ? "connecting" : "closed");
      },
    });
    return () => {
      subscription.close();
      if (statsTimer) clearTimeout(statsTimer);
    };
  }, [api, qc, logout]);

  const value = useMemo<Live>(
    () => ({ state, lastEventAt, fallbackInterval: state === "open" ? false : 10_000 }),
    [state, lastEventAt],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

// ---------------------------------------------------------------- theme

export type Theme = "light" | "dark";
const ThemeContext = createContext<{ theme: Theme; toggle: () => void }>({
  theme: "dark",
  toggle: () => undefined,
});

export function useTheme() {
  return useContext(ThemeContext);
}

function ThemeProvider({ children }: { children: ReactNode }) {
  const [theme, setTheme] = useState<Theme>("dark");
  useEffect(() => {
    setTheme(document.documentElement.dataset.theme === "light" ? "light" : "dark");
  }, []);
  const toggle = useCallback(() => {
    setTheme((t) => {
      const next = t === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      window.localStorage.setItem(STORAGE_KEYS.theme, next);
      return next;
    });
  }, []);
  const value = useMemo(() => ({ theme, toggle }), [theme, toggle]);
  return <ThemeContext.Provider value={value}>{children}</ThemeContext.Provider>;
}

// ---------------------------------------------------------------- toasts

type Tone = "ok" | "bad" | "info";
interface ToastItem {
  id: number;
  text: string;
  tone: Tone;
}
const ToastContext = createContext<(text: string, tone?: Tone) => void>(() => undefined);

export function useToast() {
  return useContext(ToastContext);
}

function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<ToastItem[]>([]);
  const next = useRef(1);
  const push = useCallback((text: string, tone: Tone = "info") => {
    const id = next.current++;
    setItems((xs) => [...xs.slice(-3), { id, text, tone }]);
    setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== id)), tone === "bad" ? 8000 : 4000);
  }, []);
  return (
    <ToastContext.Provider value={push}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {items.map((t) => (
          <div key={t.id} className={`toast ${t.tone}`}>
            {t.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

// ---------------------------------------------------------------- all together

export function Providers({ children }: { children: ReactNode }) {
  const [client] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: {
            staleTime: 5_000,
            retry: (count, err) => {
              const status = (err as { status?: number }).status ?? 0;
              return status >= 500 || status === 0 ? count < 2 : false;
            },
            refetchOnWindowFocus: true,
          },
        },
      }),
  );
  return (
    <QueryClientProvider client={client}>
      <ThemeProvider>
        <ToastProvider>
          <SessionProvider>
            <LiveProvider>{children}</LiveProvider>
          </SessionProvider>
        </ToastProvider>
      </ThemeProvider>
    </QueryClientProvider>
  );
}
