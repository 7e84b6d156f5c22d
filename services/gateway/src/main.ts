#!/usr/bin/env node
// The `aetherium` entry point. `aetherium start` (what `npm start` runs) brings the platform up in
// one process; `gateway`, `worker` and `migrate` arrive as their parts do.
import { runCli } from "./cli/run-cli.js";

process.exitCode = await runCli(process.argv.slice(2));
