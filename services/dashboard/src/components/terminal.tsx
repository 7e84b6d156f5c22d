"use client";
/** An interactive shell in a sandbox: xterm.js over the exec WebSocket with a PTY. */
import "@xterm/xterm/css/xterm.css";
import { useCallback, useEffect, useRef, useState } from "react";
import type { ExecSession } from "@aetherium/sdk";
import { errorMessage } from "../lib/api/api.js";
import { useApi } from "./providers.js";

type TermState = "connecting" | "open" | "ended" | "error";

/** A login shell: bash where the image has it, else sh. */
const SHELLS = [
  { command: "bash", args: ["-l"] },
  { command: "sh", args: ["-l"] },
] as const;

export function Terminal({ vmId }: { vmId: string }) {
  const api = useApi();
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<TermState>("connecting");
  const [detail, setDetail] = useState("");
  const [session, setSession] = useState(0);
  const [shell, setShell] = useState(0);
  const selection = useRef("");

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    let disposed = false;
    let cleanup = () => undefined as void;
    setState("connecting");
    setDetail("");
    void (async () => {
      const [{ Terminal: XTerm }, { FitAddon }] = await Promise.all([
        import("@xterm/xterm"),
        import("@xterm/addon-fit"),
      ]);
      if (disposed) return;
      const term = new XTerm({
        cursorBlink: true,
        fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
        fontSize: 13,
        scrollback: 5000,
        theme: { background: "#0b0d11", foreground: "#d7dde6", cursor: "#a5b4fc" },
      });
      const fit = new FitAddon();
      term.loadAddon(fit);
      term.open(el);
      try {
        fit.fit();
      } catch {
        /* not laid out yet */
      }
      let sawOutput = false;
      let session: ExecSession | null = null;
      const output = (b: Uint8Array) => {
        sawOutput = true;
        term.write(b);
      };
      const fail = (err: unknown) => {
        if (disposed) return;
        setState("error");
        setDetail(errorMessage(err));
        term.write(`\r\n\x1b[31m[${errorMessage(err)}]\x1b[0m\r\n`);
      };
      const shellSpec = SHELLS[shell]!;
      api
        .spawn(vmId, shellSpec.command, {
          args: shellSpec.args,
          env: { TERM: "xterm-256color" },
          pty: { cols: Math.max(2, term.cols), rows: Math.max(2, term.rows) },
          onStdout: output,
          onStderr: output,
        })
        .then((s) => {
          if (disposed) return s.close();
          session = s;
          s.started().then(() => {
            if (disposed) return;
            setState("open");
            term.focus();
          }, fail);
          s.wait().then((e) => {
            if (disposed) return;
            // No bash in this image (127: not found): open sh instead.
            if (e.exitCode === 127 && !sawOutput && shell + 1 < SHELLS.length) {
              setShell(shell + 1);
              return;
            }
            setState("ended");
            setDetail(`exit code ${e.exitCode}${e.signal ? ` (${e.signal})` : ""}`);
            term.write(`\r\n\x1b[90m[session ended: exit code ${e.exitCode}]\x1b[0m\r\n`);
          }, fail);
        }, fail);
      const data = term.onData((d) => session?.write(d));
      const resize = term.onResize(({ cols, rows }) => session?.resize(cols, rows));
      const sel = term.onSelectionChange(() => {
        selection.current = term.getSelection();
      });
      // Ctrl+Shift+C copies the selection (Ctrl+C stays an interrupt for the shell).
      term.attachCustomKeyEventHandler((ev) => {
        if (ev.type === "keydown" && ev.ctrlKey && ev.shiftKey && ev.key.toLowerCase() === "c") {
          void navigator.clipboard?.writeText(term.getSelection()).catch(() => undefined);
          return false;
        }
        return true;
      });
      const ro = new ResizeObserver(() => {
        try {
          fit.fit();
        } catch {
          /* hidden */
        }
      });
      ro.observe(el);
      cleanup = () => {
        ro.disconnect();
        data.dispose();
        resize.dispose();
        sel.dispose();
        session?.close();
        term.dispose();
      };
    })();
    return () => {
      disposed = true;
      cleanup();
    };
  }, [api, vmId, session, shell]);

  const copy = useCallback(() => {
    void navigator.clipboard?.writeText(selection.current).catch(() => undefined);
  }, []);

  return (
    <div className="stack" style={{ gap: 8 }}>
      <div className="row">
        <span
          className={`live ${state === "open" ? "open" : state === "connecting" ? "connecting" : ""}`}
        >
          <span className="dot" aria-hidden="true" />
          {state === "open"
            ? "Connected — interactive shell"
            : state === "connecting"
              ? "Connecting…"
              : state === "ended"
                ? `Session ended — ${detail}`
                : `Disconnected — ${detail}`}
        </span>
        <span className="spacer" />
        <span className="faint small hide-narrow">Ctrl+Shift+C copies the selection</span>
        <button type="button" className="btn small" onClick={copy}>
          Copy selection
        </button>
        <button type="button" className="btn small" onClick={() => setSession((n) => n + 1)}>
          {state === "open" ? "Restart" : "Reconnect"}
        </button>
      </div>
      <div className="terminal" data-terminal-state={state}>
        <div className="terminal-host" ref={host} aria-label="Terminal" />
      </div>
    </div>
  );
}
