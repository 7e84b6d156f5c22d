// Fails when a source file name is not kebab-case (one naming style, checked, not hoped for).
import { execFileSync } from "node:child_process";
import path from "node:path";

const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
  encoding: "utf8",
})
  .split("\n")
  .filter((f) => /\.(ts|tsx|mjs|cjs|js)$/.test(f));

// Names fixed by their tools (Next.js, Pulumi, config files) are exempt.
const exempt = /^(vitest\.config|vitest\.shared|eslint\.config|next\.config|next-env\.d|Pulumi)\b/;
const kebab = /^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)*$/;

const bad = files.filter((f) => {
  const base = path
    .basename(f)
    .replace(/^\./, "") // dotfiles (.dependency-cruiser.cjs) are named by their tools
    .replace(/\.(d\.)?(ts|tsx|mjs|cjs|js)$/, "");
  return !exempt.test(path.basename(f)) && !kebab.test(base);
});
if (bad.length > 0) {
  console.error(`file names must be kebab-case:\n  ${bad.join("\n  ")}`);
  process.exit(1);
}
console.log(`file names: ${files.length} checked, all kebab-case`);
