#!/usr/bin/env node
// The `aetherium` entry point: `start` (what `npm start` runs), `gateway`, `worker`, `migrate`
// and `image build`.
import { runCli } from "./cli/run-cli.js";

process.exitCode = await runCli(process.argv.slice(2));
