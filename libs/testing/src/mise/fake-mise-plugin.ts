/**
 * What a local asdf-style plugin installs, so tests of tool installation run offline with mise's
 * real plugin machinery: `succeed` writes an executable that prints `<name> <version>`, `fail`
 * prints the value of `FAKE_TOOL_ECHO` and {@link FAKE_TOOL_FAILURE} and exits 1, `hang` prints that it started and sleeps for an
 * hour (for timeouts).
 */
export type FakeMisePluginBehaviour = "succeed" | "fail" | "hang";

/** One plugin of {@link fakeMisePluginScript}. */
export interface FakeMisePlugin {
  /** The tool's (and the plugin's) name, e.g. `faketool`: specs are then `faketool@1.2.3`. */
  readonly name: string;
  /** What its `bin/install` does; default `succeed`. */
  readonly behaviour?: FakeMisePluginBehaviour;
  /** Versions its `bin/list-all` offers; default `1.0.0 1.2.3`. */
  readonly versions?: readonly string[];
}

/**
 * Environment that keeps mise off the network and away from prompts: set it on the sandbox
 * (`env` of `POST /vms`) or on the install commands.
 */
export const OFFLINE_MISE_ENV: Readonly<Record<string, string>> = {
  MISE_OFFLINE: "1",
  MISE_YES: "1",
};

/** What a `fail` plugin's install prints on standard error (the tool's name follows it). */
export const FAKE_TOOL_FAILURE = "fake-tool-failure: cannot build";

/** Where {@link fakeMisePluginScript} writes the plugins unless told otherwise. */
const DEFAULT_PLUGIN_DIR = "$HOME/.aetherium-test/mise-plugins";

function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function installScript(name: string, behaviour: FakeMisePluginBehaviour): string {
  switch (behaviour) {
    case "fail":
      return [
        "#!/bin/sh",
        // Echoes FAKE_TOOL_ECHO so a test can check what reaches stored output (redaction).
        `echo "compiling ${name} $ASDF_INSTALL_VERSION \${FAKE_TOOL_ECHO:-}"`,
        `echo "${FAKE_TOOL_FAILURE} ${name}" >&2`,
        "exit 1",
      ].join("\n");
    case "hang":
      return ["#!/bin/sh", `echo "${name} install started"`, "exec sleep 3600"].join("\n");
    case "succeed":
      return [
        "#!/bin/sh",
        "set -e",
        `echo "installing ${name} $ASDF_INSTALL_VERSION"`,
        'mkdir -p "$ASDF_INSTALL_PATH/bin"',
        `printf '#!/bin/sh\\necho "${name} %s"\\n' "$ASDF_INSTALL_VERSION" > "$ASDF_INSTALL_PATH/bin/${name}"`,
        `chmod +x "$ASDF_INSTALL_PATH/bin/${name}"`,
      ].join("\n");
  }
}

/**
 * A POSIX shell script that writes each plugin (`bin/list-all`, a no-op `bin/download`, and a
 * `bin/install` behaving as asked) under `dir` and links it for the user running the script with
 * `mise plugins link --force`. Run it in a sandbox as the user the tools are for (or in an image
 * build as that user); afterwards `mise use -g <name>@<version>` installs through the plugin with
 * no network. `dir` may use `$HOME`; it must be writable by that user.
 */
export function fakeMisePluginScript(
  plugins: readonly FakeMisePlugin[],
  dir: string = DEFAULT_PLUGIN_DIR,
): string {
  const lines = ["set -eu"];
  for (const plugin of plugins) {
    if (!/^[a-z][a-z0-9-]*$/.test(plugin.name)) {
      throw new Error(`fake plugin name "${plugin.name}" must be lower-case letters, digits, '-'`);
    }
    const root = `${dir}/${plugin.name}`;
    const versions = (plugin.versions ?? ["1.0.0", "1.2.3"]).join(" ");
    const files: [string, string][] = [
      ["list-all", `#!/bin/sh\necho ${quote(versions)}`],
      ["download", "#!/bin/sh\nexit 0"],
      ["install", installScript(plugin.name, plugin.behaviour ?? "succeed")],
    ];
    lines.push(`mkdir -p "${root}/bin"`);
    for (const [file, body] of files) {
      lines.push(`cat > "${root}/bin/${file}" <<'AETHER_PLUGIN_EOF'`, body, "AETHER_PLUGIN_EOF");
      lines.push(`chmod 755 "${root}/bin/${file}"`);
    }
    lines.push(`mise plugins link --force ${plugin.name} "${root}"`);
  }
  return `${lines.join("\n")}\n`;
}
