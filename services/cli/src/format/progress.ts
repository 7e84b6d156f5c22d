/**
 * A one-line status display for long operations: a spinner rewritten in place on a terminal, one
 * line per change elsewhere (CI logs), nothing at all for `--json`.
 * @module
 */
import type { OutStream } from "../io.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A status line on `stream` (stderr, so stdout stays clean for the result). */
export class StatusLine {
  readonly #stream: OutStream;
  readonly #mode: "tty" | "lines" | "off";
  #text = "";
  #frame = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(stream: OutStream, options: { quiet?: boolean } = {}) {
    this.#stream = stream;
    this.#mode = options.quiet ? "off" : stream.isTTY ? "tty" : "lines";
  }

  /** Shows `text` as the current state. */
  update(text: string): void {
    if (text === this.#text) return;
    this.#text = text;
    if (this.#mode === "lines") this.#stream.write(`${text}\n`);
    if (this.#mode !== "tty") return;
    this.#draw();
    this.#timer ??= setInterval(() => this.#draw(), 80);
  }

  /** Clears the line (on a terminal) and stops the spinner. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#mode === "tty" && this.#text) this.#stream.write("\r\x1b[2K");
    this.#text = "";
  }

  #draw(): void {
    this.#frame = (this.#frame + 1) % FRAMES.length;
    this.#stream.write(`\r\x1b[2K${FRAMES[this.#frame]} ${this.#text}`);
  }
}
