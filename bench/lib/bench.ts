import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The closing line of every benchmark: its name, its figures, and its headline ratio. */
export interface BenchResult {
  readonly bench: string;
  readonly ratio: number;
  readonly [figure: string]: unknown;
}

/** A benchmark module under `bench/<name>/index.ts` default-exports one of these. */
export interface Benchmark {
  readonly name: string;
  /** One line: what is measured against which baseline, and the goal. */
  readonly description: string;
  /** Measures ours and the baseline side by side, printing a readable table as it goes. */
  run(): Promise<BenchResult>;
}

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "results");

/** Prints the closing JSON line and writes it to `bench/results/<name>.json`. */
export async function report(result: BenchResult): Promise<void> {
  const line = JSON.stringify(result);
  console.log(line);
  await mkdir(resultsDir, { recursive: true });
  await writeFile(path.join(resultsDir, `${result.bench}.json`), line + "\n");
}
