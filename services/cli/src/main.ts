#!/usr/bin/env node
import { processIo, runAether } from "./index.js";

// Exit explicitly: a piped stdin or an idle socket must not keep the process alive after the result.
const code = await runAether(process.argv.slice(2), processIo());
process.exitCode = code;
process.stdout.write("", () => process.exit(code));
