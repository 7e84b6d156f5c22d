"use client";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useQueryClient } from "@tanstack/react-query";
import { Suspense, useEffect, useRef, useState, type FormEvent } from "react";
import { useTitle, useVms } from "../../components/hooks.js";
import { useApi } from "../../components/providers.js";
import { EmptyState, ErrorState, Loading, PageHead } from "../../components/ui.js";
import { createUtf8StreamDecoder } from "../../lib/api/encoding.js";
import type { ExecSession } from "@aetherium/sdk";
import { errorMessage } from "../../lib/api/api.js";
import { formatDuration } from "../../format/format.js";

interface Chunk {
  kind: "cmd" | "out" | "err" | "meta";
  text: string;
}

const MAX_CHUNKS = 4000;

function ConsoleView() {
  useTitle("Console");
  const api = useApi();
  const qc = useQueryClient();
  const params = useSearchParams();
  const vms = useVms({ status: ["running"] });
  const [vmId, setVmId] = useState(params.get("vm") ?? "");
  const [command, setCommand] = useState("");
  const [chunks, setChunks] = useState<Chunk[]>([]);
  const [running, setRunning] = useState<ExecSession | "starting" | null>(null);
  const [history, setHistory] = useState<string[]>([]);
  const [hIndex, setHIndex] = useState(-1);
  const out = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLInputElement>(null);

  const running0 = vms.data?.items ?? [];
  useEffect(() => {
    if (!vmId && running0[0]) setVmId(running0[0].id);
  }, [vmId, running0]);
  useEffect(() => {
    out.current?.scrollTo({ top: out.current.scrollHeight });
  }, [chunks]);
  // Leaving the page ends a command still streaming here.
  const current = useRef<ExecSession | null>(null);
  useEffect(() => {
    current.current = running === "starting" ? null : running;
  }, [running]);
  useEffect(() => () => current.current?.close(), []);

  const append = (c: Chunk) =>
    setChunks((xs) => {
      const last = xs[xs.length - 1];
      const next =
        last && last.kind === c.kind && c.kind !== "cmd"
          ? [...xs.slice(0, -1), { kind: c.kind, text: last.text + c.text }]
          : [...xs, c];
      return next.length > MAX_CHUNKS ? next.slice(-MAX_CHUNKS) : next;
    });

  const run = (e: FormEvent) => {
    e.preventDefault();
    const cmd = command.trim();
    if (!cmd || !vmId || running) return;
    setHistory((h) => [cmd, ...h.filter((x) => x !== cmd)].slice(0, 50));
    setHIndex(-1);
    setCommand("");
    const vm = running0.find((v) => v.id === vmId);
    append({ kind: "cmd", text: `${vm?.name ?? vmId} $ ${cmd}\n` });
    const decOut = createUtf8StreamDecoder();
    const decErr = createUtf8StreamDecoder();
    const t0 = performance.now();
    const done = () => {
      setRunning(null);
      void qc.invalidateQueries({ queryKey: ["executions", vmId] });
      setTimeout(() => input.current?.focus(), 0);
    };
    const failed = (err: unknown) => {
      append({ kind: "err", text: `\n[${errorMessage(err)}]\n` });
      done();
    };
    setRunning("starting");
    api
      .spawn(vmId, cmd, {
        onStdout: (b) => append({ kind: "out", text: decOut(b) }),
        onStderr: (b) => append({ kind: "err", text: decErr(b) }),
      })
      .then((session) => {
        session.closeStdin();
        setRunning(session);
        session.wait().then((x) => {
          append({
            kind: "meta",
            text: `\n[exit ${x.exitCode}${x.signal ? ` ${x.signal}` : ""} · ${formatDuration(x.durationMs ?? performance.now() - t0)}]\n`,
          });
          done();
        }, failed);
      }, failed);
  };

  return (
    <>
      <PageHead
        title="Console"
        subtitle="Run a command in a sandbox and watch its output as it streams."
        actions={
          <button
            type="button"
            className="btn"
            onClick={() => setChunks([])}
            disabled={chunks.length === 0}
          >
            Clear
          </button>
        }
      />
      {vms.isPending ? (
        <div className="card">
          <Loading />
        </div>
      ) : vms.isError ? (
        <div className="card">
          <ErrorState error={vms.error} retry={() => void vms.refetch()} />
        </div>
      ) : running0.length === 0 ? (
        <div className="card">
          <EmptyState
            title="No running sandbox"
            action={
              <Link className="btn primary" href="/sandboxes/">
                Go to sandboxes
              </Link>
            }
          >
            Start or create a sandbox to run commands in it.
          </EmptyState>
        </div>
      ) : (
        <div className="card">
          <form className="filters" onSubmit={run}>
            <select aria-label="Sandbox" value={vmId} onChange={(e) => setVmId(e.target.value)}>
              {running0.map((v) => (
                <option key={v.id} value={v.id}>
                  {v.name}
                </option>
              ))}
            </select>
            <input
              ref={input}
              aria-label="Command"
              className="mono"
              style={{ flex: 1, minWidth: 200 }}
              placeholder="uname -a && ls /"
              value={command}
              disabled={running !== null}
              onChange={(e) => setCommand(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "ArrowUp" && history.length) {
                  e.preventDefault();
                  const i = Math.min(history.length - 1, hIndex + 1);
                  setHIndex(i);
                  setCommand(history[i]!);
                } else if (e.key === "ArrowDown") {
                  e.preventDefault();
                  const i = hIndex - 1;
                  setHIndex(Math.max(-1, i));
                  setCommand(i < 0 ? "" : history[i]!);
                }
              }}
            />
            {running ? (
              <button
                type="button"
                className="btn danger"
                disabled={running === "starting"}
                onClick={() => running !== "starting" && running.signal("SIGINT")}
              >
                Interrupt
              </button>
            ) : (
              <button type="submit" className="btn primary" disabled={!command.trim()}>
                Run
              </button>
            )}
          </form>
          <div className="card-body">
            <div
              className="console-out"
              ref={out}
              aria-live="polite"
              aria-label="Output"
              data-console-output
            >
              {chunks.length === 0 ? (
                <span className="meta">
                  Output appears here. ↑ and ↓ walk through earlier commands.
                </span>
              ) : (
                chunks.map((c, i) => (
                  <span key={i} className={c.kind === "out" ? undefined : c.kind}>
                    {c.text}
                  </span>
                ))
              )}
            </div>
          </div>
        </div>
      )}
    </>
  );
}

export default function ConsolePage() {
  return (
    <Suspense fallback={<Loading />}>
      <ConsoleView />
    </Suspense>
  );
}
