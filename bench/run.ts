// `npm run bench` runs every benchmark under bench/<name>/; `npm run bench -- queue` runs one.
import { readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { report, type Benchmark } from "./lib/bench.js";

const here = path.dirname(fileURLToPath(import.meta.url));

async function discover(): Promise<string[]> {
  const entries = await readdir(here, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name === "lib" || e.name === "results") continue;
    const files = await readdir(path.join(here, e.name));
    if (files.includes("index.ts")) names.push(e.name);
  }
  return names.sort();
}

async function main(): Promise<number> {
  const available = await discover();
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const unknown = wanted.filter((w) => !available.includes(w));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark: ${unknown.join(", ")}; available: ${available.join(", ") || "none"}`,
    );
    return 2;
  }
  const names = wanted.length > 0 ? wanted : available;
  if (names.length === 0) {
    console.log("no benchmarks yet: add bench/<name>/index.ts exporting a Benchmark");
    return 0;
  }
  let failed = 0;
  for (const name of names) {
    const mod = (await import(pathToFileURL(path.join(here, name, "index.ts")).href)) as {
      default: Benchmark;
    };
    console.log(`\n== ${name}: ${mod.default.description}`);
    try {
      await report(await mod.default.run());
    } catch (err) {
      failed++;
      console.error(`bench ${name} failed:`, err);
    }
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
