"use client";
/** Small building blocks every page shares: badges, states, dialogs, tabs. */
import { Fragment, useEffect, useRef, useState, type ReactNode } from "react";
import { errorMessage } from "../lib/api/api.js";
import { formatRelativeTime, statusTone } from "../format/format.js";

const ICONS: Record<string, string> = {
  overview: "M3 13h8V3H3v10zm0 8h8v-6H3v6zm10 0h8V11h-8v10zm0-18v6h8V3h-8z",
  sandboxes: "M21 16.5v-9L12 2 3 7.5v9L12 22l9-5.5zM12 4.3l6.5 3.9L12 12 5.5 8.2 12 4.3z",
  console:
    "M4 5h16a1 1 0 011 1v12a1 1 0 01-1 1H4a1 1 0 01-1-1V6a1 1 0 011-1zm2 4l3 3-3 3 1.4 1.4L11.8 12 7.4 7.6 6 9zm6 6h6v-2h-6v2z",
  tasks: "M9 5h11v2H9V5zm0 6h11v2H9v-2zm0 6h11v2H9v-2zM4 4.5h3v3H4v-3zm0 6h3v3H4v-3zm0 6h3v3H4v-3z",
  workers: "M4 4h16v6H4V4zm0 10h16v6H4v-6zm3-8v2h2V6H7zm0 10v2h2v-2H7z",
  environments: "M12 3l9 5-9 5-9-5 9-5zm-9 9l9 5 9-5v2l-9 5-9-5v-2z",
  workspaces: "M3 6a2 2 0 012-2h4l2 2h8a2 2 0 012 2v10a2 2 0 01-2 2H5a2 2 0 01-2-2V6z",
  prompts: "M4 4h16v12H7l-3 3V4zm4 4v2h8V8H8zm0 3v2h5v-2H8z",
  integrations: "M7 2v6H5v4a7 7 0 006 6.9V22h2v-3.1A7 7 0 0019 12V8h-2V2h-2v6H9V2H7z",
  keys: "M14 3a7 7 0 00-6.7 9L2 17.3V22h4.7v-2.5h2.5V17h2.5l1.3-1.3A7 7 0 1014 3zm2.5 4a1.5 1.5 0 110 3 1.5 1.5 0 010-3z",
  api: "M8 6L2 12l6 6 1.4-1.4L4.8 12l4.6-4.6L8 6zm8 0l-1.4 1.4 4.6 4.6-4.6 4.6L16 18l6-6-6-6z",
  settings:
    "M19.4 13a7.8 7.8 0 000-2l2.1-1.6-2-3.5-2.5 1a7.6 7.6 0 00-1.7-1L15 3h-4l-.3 2.9a7.6 7.6 0 00-1.7 1l-2.5-1-2 3.5L6.6 11a7.8 7.8 0 000 2l-2.1 1.6 2 3.5 2.5-1c.5.4 1.1.7 1.7 1L11 21h4l.3-2.9c.6-.3 1.2-.6 1.7-1l2.5 1 2-3.5-2.1-1.6zM13 15.5a3.5 3.5 0 110-7 3.5 3.5 0 010 7z",
  sun: "M12 7a5 5 0 100 10 5 5 0 000-10zm0-5l1 3h-2l1-3zm0 20l-1-3h2l-1 3zM2 12l3-1v2l-3-1zm20 0l-3 1v-2l3 1z",
  moon: "M20 15.3A8.5 8.5 0 018.7 4 8.5 8.5 0 1020 15.3z",
  menu: "M3 6h18v2H3V6zm0 5h18v2H3v-2zm0 5h18v2H3v-2z",
  file: "M6 2h8l6 6v14H6V2zm8 1.5V9h5.5L14 3.5z",
  folder: "M3 6a2 2 0 012-2h4l2 2h8a2 2 0 012 2v10a2 2 0 01-2 2H5a2 2 0 01-2-2V6z",
  link: "M10.6 13.4l-1.4-1.4 4.9-4.9 1.4 1.4-4.9 4.9zM7 17a3 3 0 010-4.2l2.1-2.1-1.4-1.4-2.1 2.1a5 5 0 007 7l2.1-2.1-1.4-1.4L11.2 17A3 3 0 017 17zm10-10a3 3 0 010 4.2l-2.1 2.1 1.4 1.4 2.1-2.1a5 5 0 00-7-7l-2.1 2.1 1.4 1.4L12.8 7A3 3 0 0117 7z",
  empty: "M4 4h16v4H4V4zm0 6h16v10H4V10zm5 3v2h6v-2H9z",
  alert: "M12 2L1 21h22L12 2zm1 15h-2v2h2v-2zm0-7h-2v5h2v-5z",
};

export function Icon({ name, size = 16 }: { name: string; size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" fill="currentColor">
      <path d={ICONS[name] ?? ICONS.empty} />
    </svg>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge ${statusTone(status)}`} data-status={status}>
      <span className="dot" aria-hidden="true" />
      {status}
    </span>
  );
}

export function EmptyState({
  title,
  children,
  action,
  icon = "empty",
}: {
  title: string;
  children?: ReactNode;
  action?: ReactNode;
  icon?: string;
}) {
  return (
    <div className="state" role="status">
      <div className="state-icon">
        <Icon name={icon} size={20} />
      </div>
      <div className="state-title">{title}</div>
      {children && <p>{children}</p>}
      {action}
    </div>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <div className="state-icon">
        <Icon name="alert" size={20} />
      </div>
      <div className="state-title">Could not load this</div>
      <p>{errorMessage(error)}</p>
      {retry && (
        <button type="button" className="btn" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ rows = 4, label = "Loading" }: { rows?: number; label?: string }) {
  return (
    <div className="card-body stack" aria-busy="true" aria-label={label}>
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="skeleton" style={{ width: `${90 - ((i * 17) % 40)}%` }} />
      ))}
    </div>
  );
}

/** "3 min ago", refreshed every 15 s; the full time in the tooltip. */
export function RelTime({ iso }: { iso: string | null | undefined }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 15_000);
    return () => clearInterval(t);
  }, []);
  if (!iso) return <span className="faint">—</span>;
  return (
    <time dateTime={iso} title={new Date(iso).toLocaleString()}>
      {formatRelativeTime(iso)}
    </time>
  );
}

export function Dialog({
  title,
  description,
  onClose,
  children,
  footer,
  labelledBy = "dialog-title",
}: {
  title: string;
  description?: ReactNode;
  onClose: () => void;
  children: ReactNode;
  footer?: ReactNode;
  labelledBy?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>(
      "input, select, textarea, button:not([data-close])",
    );
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
      if (e.key === "Tab" && ref.current) {
        const items = ref.current.querySelectorAll<HTMLElement>(
          "input, select, textarea, button, a[href]",
        );
        const list = Array.from(items).filter((x) => !x.hasAttribute("disabled"));
        if (list.length === 0) return;
        const a = list[0]!;
        const z = list[list.length - 1]!;
        if (e.shiftKey && document.activeElement === a) {
          e.preventDefault();
          z.focus();
        } else if (!e.shiftKey && document.activeElement === z) {
          e.preventDefault();
          a.focus();
        }
      }
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      prev?.focus();
    };
  }, [onClose]);
  return (
    <div
      className="overlay"
      onMouseDown={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={labelledBy}
        ref={ref}
      >
        <div className="dialog-head">
          <h2 id={labelledBy}>{title}</h2>
          {description && <p>{description}</p>}
        </div>
        <div className="dialog-body">{children}</div>
        {footer && <div className="dialog-foot">{footer}</div>}
      </div>
    </div>
  );
}

/**
 * The end of a create form in a dialog: the server's refusal (if any) as a banner, then Cancel
 * and the submit button, which says "Creating…" and stays disabled while `busy`.
 */
export function CreateFormFoot({
  serverError,
  busy,
  submitLabel,
  onCancel,
}: {
  serverError: string | null;
  busy: boolean;
  submitLabel: string;
  onCancel: () => void;
}) {
  return (
    <>
      {serverError && (
        <div className="banner bad" role="alert">
          {serverError}
        </div>
      )}
      <div className="dialog-foot" style={{ padding: 0 }}>
        <button type="button" className="btn" onClick={onCancel} data-close>
          Cancel
        </button>
        <button type="submit" className="btn primary" disabled={busy}>
          {busy ? "Creating…" : submitLabel}
        </button>
      </div>
    </>
  );
}

/**
 * A dialog asking to confirm something that cannot be undone: Cancel, and a red button that
 * says what it does (`confirmLabel`) and stays disabled while `pending`.
 */
export function ConfirmDialog({
  title,
  description,
  confirmLabel,
  pending = false,
  onConfirm,
  onClose,
  children,
}: {
  title: string;
  description: ReactNode;
  confirmLabel: string;
  pending?: boolean;
  onConfirm: () => void;
  onClose: () => void;
  children: ReactNode;
}) {
  return (
    <Dialog
      title={title}
      description={description}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} data-close>
            Cancel
          </button>
          <button type="button" className="btn danger solid" disabled={pending} onClick={onConfirm}>
            {confirmLabel}
          </button>
        </>
      }
    >
      {children}
    </Dialog>
  );
}

export interface TabDef {
  readonly id: string;
  readonly label: string;
}

export function Tabs({
  tabs,
  value,
  onChange,
}: {
  tabs: readonly TabDef[];
  value: string;
  onChange: (id: string) => void;
}) {
  return (
    <div
      className="tabs"
      role="tablist"
      onKeyDown={(e) => {
        const i = tabs.findIndex((t) => t.id === value);
        if (e.key === "ArrowRight") onChange(tabs[(i + 1) % tabs.length]!.id);
        if (e.key === "ArrowLeft") onChange(tabs[(i - 1 + tabs.length) % tabs.length]!.id);
      }}
    >
      {tabs.map((t) => (
        <button
          key={t.id}
          type="button"
          role="tab"
          className="tab"
          id={`tab-${t.id}`}
          aria-selected={t.id === value}
          tabIndex={t.id === value ? 0 : -1}
          onClick={() => onChange(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="btn small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(
          () => {
            setDone(true);
            setTimeout(() => setDone(false), 1500);
          },
          () => undefined,
        );
      }}
    >
      {done ? "Copied" : label}
    </button>
  );
}

export function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span className="faint">—</span>;
  return <pre className="code">{JSON.stringify(value, null, 2)}</pre>;
}

export function Labels({ labels }: { labels: Readonly<Record<string, string>> }) {
  const entries = Object.entries(labels);
  if (entries.length === 0) return <span className="faint">—</span>;
  return (
    <span>
      {entries.map(([k, v]) => (
        <span key={k} className="chip">
          {k}={v}
        </span>
      ))}
    </span>
  );
}

export function PageHead({
  title,
  subtitle,
  actions,
}: {
  title: ReactNode;
  subtitle?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <div className="page-head">
      <div>
        <h1>{title}</h1>
        {subtitle && <p>{subtitle}</p>}
      </div>
      {actions && <div className="actions">{actions}</div>}
    </div>
  );
}

/** A titled card; `extra` sits at the right of its head (a link, a badge, a button). */
export function Card({
  title,
  extra,
  children,
}: {
  title: ReactNode;
  extra?: ReactNode;
  children: ReactNode;
}) {
  return (
    <div className="card">
      <div className="card-head">
        <h2>{title}</h2>
        {extra}
      </div>
      <div className="card-body">{children}</div>
    </div>
  );
}

/** A two-column list of facts: each row a label and its value (`mono` for ids and paths). */
export function KeyValues({
  rows,
}: {
  rows: readonly (readonly [label: string, value: ReactNode, mono?: "mono"])[];
}) {
  return (
    <dl className="kv">
      {rows.map(([label, value, mono]) => (
        <Fragment key={label}>
          <dt>{label}</dt>
          <dd className={mono}>{value}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

/** "Show more" under a list that has another page; says when the list is complete. */
export function ShowMore({
  more,
  loading,
  shown,
  noun,
  onMore,
}: {
  more: boolean;
  loading: boolean;
  shown: number;
  noun: string;
  onMore: () => void;
}) {
  if (!more) return null;
  return (
    <div className="show-more">
      <span className="muted small">
        Showing the newest {shown} {noun}; there are more.
      </span>
      <button type="button" className="btn" onClick={onMore} disabled={loading}>
        {loading ? "Loading…" : "Show more"}
      </button>
    </div>
  );
}
