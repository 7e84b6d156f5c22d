/**
 * What a command line run touches outside itself, so tests can run `runAether` in-process.
 * @module
 */

/** Where output goes: `process.stdout` / `process.stderr`, or a test's buffer. */
export interface OutStream {
  /** Writes text or raw bytes (command output is passed through unchanged). */
  write(chunk: string | Uint8Array): unknown;
  /** True for a terminal: enables the spinner and the interactive shell. */
  readonly isTTY?: boolean;
  /** Terminal width and height, when a terminal. */
  readonly columns?: number;
  readonly rows?: number;
}

/** Where input comes from: `process.stdin`, or a test's stream. */
export interface InStream extends AsyncIterable<string | Uint8Array> {
  readonly isTTY?: boolean;
  /** Raw mode on a terminal (keys as they are typed, Ctrl-C as a byte). */
  setRawMode?(raw: boolean): unknown;
  /** Listens to input chunks (the interactive shell). */
  on?(event: "data", listener: (chunk: string | Uint8Array) => void): unknown;
  /** Stops listening. */
  off?(event: "data", listener: (chunk: string | Uint8Array) => void): unknown;
  /** Starts the flow of `data` events. */
  resume?(): unknown;
  /** Stops the flow, so the process can exit. */
  pause?(): unknown;
}

/** The process around one `runAether` call. */
export interface CliIo {
  /** Results and command output. */
  readonly stdout: OutStream;
  /** Errors, progress and command stderr. */
  readonly stderr: OutStream;
  /** Input for `exec` (when piped) and `shell`. */
  readonly stdin: InStream;
  /** Environment (AETHERIUM_URL, AETHERIUM_API_KEY, AETHERIUM_HOME). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths and `./.aetherium` resolve against. */
  readonly cwd: string;
  /** Subscribes to a process signal (SIGWINCH, SIGINT); returns the unsubscribe. Absent in tests. */
  readonly onSignal?: (
    signal: "SIGWINCH" | "SIGINT" | "SIGTERM",
    listener: () => void,
  ) => () => void;
}

/** The real process. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    onSignal: (signal, listener) => {
      process.on(signal, listener);
      return () => process.off(signal, listener);
    },
  };
}
