"use client";
/** Send a prompt to a workspace's agent and watch the answer stream into a terminal view. */
import "@xterm/xterm/css/xterm.css";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { Prompt } from "@aetherium/types";
import type { Terminal as XTerm } from "@xterm/xterm";
import { errorMessage } from "../lib/api/api.js";
import { useApi } from "./providers.js";

/** The state line under the terminal. */
function describe(prompt: Prompt): string {
  const took = prompt.durationMs === null ? "" : ` · ${(prompt.durationMs / 1000).toFixed(1)} s`;
  const code = prompt.exitCode === null ? "" : ` · exit ${prompt.exitCode}`;
  return `${prompt.status}${code}${took}${prompt.error ? ` · ${prompt.error}` : ""}`;
}

export function PromptConsole({ workspaceId }: { workspaceId: string }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const host = useRef<HTMLDivElement>(null);
  const term = useRef<XTerm | null>(null);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [state, setState] = useState("");
  const abort = useRef<AbortController | null>(null);
  // xterm.js loads lazily: a prompt sent before it is ready (a quick user, a loaded machine) is
  // kept here and written once the terminal opens, instead of being lost.
  const pending = useRef<string[]>([]);
  const write = (data: string) => {
    if (term.current) term.current.write(data);
    else pending.current.push(data);
  };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    let disposed = false;
    let dispose = () => undefined as void;
    void (async () => {
      const [{ Terminal }, { FitAddon }] = await Promise.all([
        import("@xterm/xterm"),
        import("@xterm/addon-fit"),
      ]);
      if (disposed) return;
      const t = new Terminal({
        // The agent writes plain lines; a terminal needs \r\n.
        convertEol: true,
        disableStdin: true,
        fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
        fontSize: 13,
        scrollback: 10_000,
        theme: { background: "#0b0d11", foreground: "#d7dde6" },
      });
      const fit = new FitAddon();
      t.loadAddon(fit);
      t.open(el);
      try {
        fit.fit();
      } catch {
        /* not laid out yet */
      }
      term.current = t;
      for (const data of pending.current.splice(0)) t.write(data);
      const ro = new ResizeObserver(() => {
        try {
          fit.fit();
        } catch {
          /* hidden */
        }
      });
      ro.observe(el);
      dispose = () => {
        ro.disconnect();
        t.dispose();
        term.current = null;
      };
    })();
    return () => {
      disposed = true;
      pending.current = [];
      abort.current?.abort();
      dispose();
    };
  }, [workspaceId]);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    const prompt = text.trim();
    if (!prompt || busy) return;
    const ctl = new AbortController();
    abort.current = ctl;
    setBusy(true);
    setState("sending");
    write(`\x1b[36m› ${prompt.replace(/\n/g, "\n  ")}\x1b[0m\n`);
    try {
      const done = await api.runPrompt(
        workspaceId,
        { prompt },
        {
          signal: ctl.signal,
          onChunk: (chunk, stream) =>
            write(stream === "stderr" ? `\x1b[31m${chunk}\x1b[0m` : chunk),
          onStatus: (status, position) =>
            setState(status === "pending" && position ? `queued (position ${position})` : status),
        },
      );
      setState(describe(done));
      write(`\x1b[90m[${describe(done)}]\x1b[0m\n\n`);
      setText("");
    } catch (err) {
      setState(`error: ${errorMessage(err)}`);
      write(`\x1b[31m[${errorMessage(err)}]\x1b[0m\n\n`);
    } finally {
      setBusy(false);
      abort.current = null;
      void queryClient.invalidateQueries({ queryKey: ["prompts", workspaceId] });
    }
  };

  return (
    <div className="stack" style={{ gap: 8 }}>
      <div
        ref={host}
        className="terminal"
        role="log"
        aria-label="Agent output"
        style={{ height: 360, background: "#0b0d11", padding: 6, borderRadius: 6 }}
      />
      <div className="muted" aria-live="polite" data-testid="prompt-state">
        {state}
      </div>
      <form className="stack" style={{ gap: 8 }} onSubmit={(e) => void send(e)}>
        <label className="field wide">
          <span>Prompt</span>
          <textarea
            name="prompt"
            rows={3}
            value={text}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void send(e);
            }}
          />
        </label>
        <div className="row">
          <button type="submit" className="btn primary" disabled={busy || text.trim() === ""}>
            {busy ? "Running…" : "Send prompt"}
          </button>
          {busy && (
            <button type="button" className="btn" onClick={() => abort.current?.abort()}>
              Cancel prompt
            </button>
          )}
        </div>
      </form>
    </div>
  );
}
