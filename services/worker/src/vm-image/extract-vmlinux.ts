/**
 * The uncompressed kernel Firecracker boots (`vmlinux`, an ELF), taken out of a distribution
 * `vmlinuz` (a bzImage: real-mode setup, a small decompressor, and the compressed kernel ELF).
 *
 * Where the compressed payload is: the bzImage's setup header says so (`payload_offset` and
 * `payload_length`, boot protocol ≥ 2.08), counted from the protected-mode code that follows the
 * `setup_sects` sectors of setup. Where no header says it (not a bzImage, an old protocol), the
 * file is searched for every known compression format's magic bytes instead, and each candidate
 * offset is tried until one decompresses to an ELF. The decompressors are the distribution's
 * command-line tools (gzip, xz, bzip2, lzop, lz4, zstd): a kernel build appends the payload's
 * uncompressed size after it, which some of them report as trailing garbage, so their exit
 * status is not trusted; the output is instead checked to be a whole x86-64 ELF (every loadable
 * segment inside the file) and, where the header gave the payload, exactly the appended size.
 * @module
 */
import { spawn } from "node:child_process";
import { readFile, rename, writeFile } from "node:fs/promises";

/** A compression format a kernel payload may use: its magic bytes and its decompressor. */
interface PayloadFormat {
  readonly name: string;
  readonly magic: Buffer;
  readonly command: readonly [string, ...string[]];
}

// The magic numbers each format's own specification gives for the start of a stream.
const FORMATS: readonly PayloadFormat[] = [
  { name: "gzip", magic: Buffer.from([0x1f, 0x8b, 0x08]), command: ["gzip", "-dc"] },
  {
    name: "xz",
    magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
    command: ["xz", "-dc"],
  },
  { name: "bzip2", magic: Buffer.from("BZh", "latin1"), command: ["bzip2", "-dc"] },
  {
    name: "lzma",
    magic: Buffer.from([0x5d, 0x00, 0x00, 0x00]),
    command: ["xz", "--format=lzma", "-dc"],
  },
  {
    name: "lzo",
    magic: Buffer.from([0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]),
    command: ["lzop", "-dc"],
  },
  // The kernel's lz4 payload is in lz4's legacy frame format.
  { name: "lz4", magic: Buffer.from([0x02, 0x21, 0x4c, 0x18]), command: ["lz4", "-dc"] },
  { name: "zstd", magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), command: ["zstd", "-dc"] },
];

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const EM_X86_64 = 0x3e;
const PT_LOAD = 1;
// Bounds on the work a file that is no kernel can cause.
const MAX_OUTPUT_BYTES = 1024 * 2 ** 20;
const MAX_CANDIDATES_PER_FORMAT = 32;

/** What {@link extractVmlinux} found. */
export interface Vmlinux {
  /** The ELF's entry point (`e_entry`): the physical address a VMM starts the kernel at. */
  readonly entry: bigint;
  /** The kernel's `Linux version …` banner, as `/proc/version` shows it in the guest. */
  readonly banner: string;
  /** The release in the banner (`uname -r`), e.g. `6.1.0-57-cloud-amd64`. */
  readonly release: string;
  /** How the payload was compressed. */
  readonly compression: string;
  /** Size of the ELF in bytes. */
  readonly size: number;
}

/** The bzImage setup header's view of the compressed payload, if the file has one. */
function headerPayload(image: Buffer): { start: number; length: number } | undefined {
  if (image.length < 0x250 || image.toString("latin1", 0x202, 0x206) !== "HdrS") return undefined;
  const protocol = image.readUInt16LE(0x206);
  if (protocol < 0x0208) return undefined;
  // 0 setup sectors means 4, for the oldest loaders' sake.
  const setupSects = image.readUInt8(0x1f1) || 4;
  const start = (setupSects + 1) * 512 + image.readUInt32LE(0x248);
  const length = image.readUInt32LE(0x24c);
  if (length === 0 || start + length > image.length) return undefined;
  return { start, length };
}

/** Runs a decompressor on `input`; its stdout, whatever its exit status (see the module comment). */
function decompress(command: readonly [string, ...string[]], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: ["pipe", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    let size = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) child.kill("SIGKILL");
      else chunks.push(chunk);
    });
    child.on("error", reject);
    // A decompressor that stops reading early closes its stdin: not an error here.
    child.stdin.on("error", () => {});
    child.stdin.end(input);
    child.on("close", () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * Checks that `elf` is a whole 64-bit x86 ELF: its magic, class, machine, and that every loadable
 * segment lies inside the file (a truncated decompression fails this). Returns its entry point.
 */
function checkElf(elf: Buffer): bigint | undefined {
  if (elf.length < 64 || !elf.subarray(0, 4).equals(ELF_MAGIC)) return undefined;
  if (elf[4] !== 2 || elf[5] !== 1 || elf.readUInt16LE(18) !== EM_X86_64) return undefined;
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  const phnum = elf.readUInt16LE(56);
  if (phnum === 0 || phoff + phnum * phentsize > elf.length) return undefined;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (elf.readUInt32LE(at) !== PT_LOAD) continue;
    const offset = elf.readBigUInt64LE(at + 8);
    const filesz = elf.readBigUInt64LE(at + 32);
    if (offset + filesz > BigInt(elf.length)) return undefined;
  }
  return elf.readBigUInt64LE(24);
}

/** Every offset at which `magic` occurs in `image`, up to the per-format bound. */
function offsetsOf(image: Buffer, magic: Buffer): number[] {
  const out: number[] = [];
  for (let at = image.indexOf(magic); at >= 0; at = image.indexOf(magic, at + 1)) {
    out.push(at);
    if (out.length >= MAX_CANDIDATES_PER_FORMAT) break;
  }
  return out;
}

/** The kernel's `Linux version <release> …` banner in an uncompressed kernel. */
function kernelBanner(elf: Buffer): { banner: string; release: string } | undefined {
  // The banner is the one that ends in a newline; `Linux version ` also prefixes shorter
  // strings (e.g. the build's version without the compiler).
  const marker = Buffer.from("Linux version ", "latin1");
  for (let at = elf.indexOf(marker); at >= 0; at = elf.indexOf(marker, at + 1)) {
    const end = elf.indexOf(0, at);
    const text = elf.toString("latin1", at, end < 0 ? at + 512 : Math.min(end, at + 512));
    const match = /^Linux version (\S+) \(.*\n$/s.exec(text);
    if (match?.[1] !== undefined) return { banner: text.trimEnd(), release: match[1] };
  }
  return undefined;
}

// Decompressors found missing while searching, named in the error when nothing was found.
const unavailable = new Set<string>();

/** Decompresses the payload in `image` at `start`, trying each format whose magic is there. */
async function tryAt(
  image: Buffer,
  start: number,
  end: number,
  formats: readonly PayloadFormat[],
  expectedSize?: number,
): Promise<{ elf: Buffer; entry: bigint; compression: string } | undefined> {
  for (const format of formats) {
    if (!image.subarray(start, start + format.magic.length).equals(format.magic)) continue;
    const elf = await decompress(format.command, image.subarray(start, end)).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") unavailable.add(format.command[0]);
        return Buffer.alloc(0);
      },
    );
    const entry = checkElf(elf);
    if (entry === undefined) continue;
    if (expectedSize !== undefined && elf.length !== expectedSize) continue;
    return { elf, entry, compression: format.name };
  }
  return undefined;
}

/**
 * The ELF inside a `vmlinuz` (or the file itself when it already is one); throws naming what was
 * tried when none is found.
 */
export async function vmlinuxFrom(
  image: Buffer,
): Promise<{ elf: Buffer; entry: bigint; compression: string }> {
  const asIs = checkElf(image);
  if (asIs !== undefined) return { elf: image, entry: asIs, compression: "none" };
  const payload = headerPayload(image);
  if (payload !== undefined) {
    const end = payload.start + payload.length;
    // The build appends the uncompressed size (32-bit little-endian) to the payload.
    const found = await tryAt(image, payload.start, end, FORMATS, image.readUInt32LE(end - 4));
    if (found !== undefined) return found;
  }
  for (const format of FORMATS) {
    for (const at of offsetsOf(image, format.magic)) {
      const found = await tryAt(image, at, image.length, [format]);
      if (found !== undefined) return found;
    }
  }
  throw new Error(
    `no compressed kernel ELF found (tried ${FORMATS.map((f) => f.name).join(", ")}${
      payload === undefined ? "; the file has no bzImage setup header" : ""
    }${unavailable.size > 0 ? `; not installed: ${[...unavailable].join(", ")}` : ""})`,
  );
}

/**
 * Writes the uncompressed kernel of the `vmlinuz` at `vmlinuzPath` to `outPath` (through a
 * temporary file, so an interrupted extraction never leaves a partial `vmlinux` behind).
 */
export async function extractVmlinux(vmlinuzPath: string, outPath: string): Promise<Vmlinux> {
  const { elf, entry, compression } = await vmlinuxFrom(await readFile(vmlinuzPath));
  const banner = kernelBanner(elf);
  if (banner === undefined) {
    throw new Error(`${vmlinuzPath}: the uncompressed kernel has no "Linux version" banner`);
  }
  const partial = `${outPath}.partial`;
  await writeFile(partial, elf);
  await rename(partial, outPath);
  return { entry, ...banner, compression, size: elf.length };
}
