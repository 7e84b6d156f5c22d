import { execFile } from "node:child_process";
import { access, constants, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_KERNEL_PACKAGE, firecrackerUnsupported, vmImageDir } from "./build-vm-image.js";
import { fetchDebianPackage, resolveDebianPackage } from "./debian-package.js";
import { extractVmlinux, vmlinuxFrom } from "./extract-vmlinux.js";

const run = promisify(execFile);
// The kernel package is unpacked where the VM image build keeps it, so neither fetches it twice.
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");

const canExec = (file: string) =>
  access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
const missing = [
  ...((await canExec("/usr/bin/apt-get")) ? [] : ["apt-get"]),
  ...((await canExec("/usr/bin/dpkg-deb")) ? [] : ["dpkg-deb"]),
];
if (missing.length > 0) console.warn(`skipping vmlinux tests: missing ${missing.join(", ")}`);

describe.skipIf(missing.length > 0)("vmlinux from the Debian kernel package", () => {
  let boot: string;
  let modulesDir: string;
  let release: string;
  let version: string;
  let tmp: string;

  beforeAll(async () => {
    const pkg = await resolveDebianPackage(DEFAULT_KERNEL_PACKAGE, /^linux-image-\d/);
    const dir = path.join(vmImageDir(CACHE_DIR), "kernel", `${pkg.name}_${pkg.version}`);
    const unpacked = await fetchDebianPackage(pkg, dir);
    release = pkg.name.replace(/^linux-image-/, "");
    version = pkg.version;
    boot = path.join(unpacked.dir, "root", "boot");
    modulesDir = path.join(unpacked.dir, "root", "lib", "modules", release);
    tmp = await mkdtemp(path.join(os.tmpdir(), "aeth-vmlinux-"));
  }, 600_000);

  afterAll(async () => {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  });

  it("is an x86-64 ELF whose entry and version are the package's kernel's", async () => {
    const vmlinuz = await readFile(path.join(boot, `vmlinuz-${release}`));
    const out = path.join(tmp, "vmlinux");
    const found = await extractVmlinux(path.join(boot, `vmlinuz-${release}`), out);

    // What `file` says, independently of our own ELF reading.
    const { stdout } = await run("file", ["-b", out]);
    expect(stdout).toMatch(/^ELF 64-bit LSB executable, x86-64/);
    const elf = await readFile(out);
    expect(elf.length).toBe(found.size);

    // The entry is where the bzImage's setup header says the kernel prefers to run
    // (`pref_address`), which is the kernel's configured CONFIG_PHYSICAL_START.
    expect(vmlinuz.toString("latin1", 0x202, 0x206)).toBe("HdrS");
    const prefAddress = vmlinuz.readBigUInt64LE(0x258);
    const config = await readFile(path.join(boot, `config-${release}`), "utf8");
    const physicalStart = BigInt(/^CONFIG_PHYSICAL_START=(0x[0-9a-f]+)$/m.exec(config)?.[1] ?? -1);
    expect(found.entry).toBe(prefAddress);
    expect(found.entry).toBe(physicalStart);
    expect(elf.readBigUInt64LE(24)).toBe(found.entry);

    // The banner names the package's release and its Debian version, as the bzImage's own
    // version string (setup header `kernel_version`) does.
    expect(found.release).toBe(release);
    expect(found.banner).toContain(`Debian ${version}`);
    const versionAt = 0x200 + vmlinuz.readUInt16LE(0x20e);
    const headerVersion = vmlinuz.toString("latin1", versionAt, vmlinuz.indexOf(0, versionAt));
    expect(headerVersion.startsWith(`${release} (`)).toBe(true);
    expect(found.banner.startsWith(`Linux version ${release} (`)).toBe(true);
    const build = /Debian \S+ \(\d{4}-\d\d-\d\d\)$/;
    expect(build.exec(found.banner)?.[0]).toBe(build.exec(headerVersion)?.[0]);
  }, 120_000);

  it("finds every driver a Firecracker guest needs, and names one a kernel lacks", async () => {
    const config = await readFile(path.join(boot, `config-${release}`), "utf8");
    expect(await firecrackerUnsupported(config, modulesDir)).toBeUndefined();
    const noVsock = config.replace(
      /^CONFIG_VIRTIO_VSOCKETS=.*$/m,
      "# CONFIG_VIRTIO_VSOCKETS is not set",
    );
    expect(await firecrackerUnsupported(noVsock, modulesDir)).toBe(
      "the kernel lacks CONFIG_VIRTIO_VSOCKETS (built in, or as a module the initramfs loads)",
    );
    // A module the package does not ship counts as missing.
    expect(await firecrackerUnsupported(config, path.join(tmp, "no-modules"))).toMatch(
      /CONFIG_VIRTIO_MMIO, CONFIG_VIRTIO_BLK, CONFIG_VIRTIO_NET/,
    );
  });
});

describe("vmlinuxFrom", () => {
  it("finds a compressed ELF by its magic where there is no setup header, and refuses a truncated one", async () => {
    const elf = await readFile("/bin/true");
    const dir = await mkdtemp(path.join(os.tmpdir(), "aeth-vmlinux-"));
    try {
      await run("sh", ["-c", `zstd -q -c /bin/true > ${dir}/true.zst`]);
      const compressed = await readFile(path.join(dir, "true.zst"));
      const junk = Buffer.alloc(4096, 0x5a);
      const found = await vmlinuxFrom(Buffer.concat([junk, compressed, junk]));
      expect(found.compression).toBe("zstd");
      expect(found.elf.equals(elf)).toBe(true);
      const truncated = compressed.subarray(0, Math.floor(compressed.length / 2));
      await expect(vmlinuxFrom(Buffer.concat([junk, truncated]))).rejects.toThrow(
        /no compressed kernel ELF found .*no bzImage setup header/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
