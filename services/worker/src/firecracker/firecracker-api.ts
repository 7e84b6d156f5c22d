/**
 * Firecracker's REST API on its unix socket: the request bodies a VM is configured with (built by
 * pure functions, so a unit test checks each against Firecracker's own API specification) and a
 * small HTTP-over-unix client that sends them.
 * @module
 */
import http from "node:http";

/** One API request: method, path, body, and the specification definition the body must match. */
export interface FirecrackerRequest {
  readonly method: "PUT" | "PATCH";
  /** Path as sent (`/drives/rootfs`). */
  readonly path: string;
  /** Path as the specification names it (`/drives/{drive_id}`). */
  readonly specPath: string;
  /** Name of the body's definition in the specification (`Drive`). */
  readonly definition: string;
  readonly body: Readonly<Record<string, unknown>>;
}

/** Everything a VM is configured with before `InstanceStart`. */
export interface FirecrackerVmConfig {
  readonly vcpus: number;
  readonly memoryMib: number;
  readonly kernelPath: string;
  /**
   * The initramfs (it loads the virtio and vsock modules a distribution kernel has as modules,
   * then mounts the root disk); absent: the kernel must have them built in.
   */
  readonly initrdPath?: string;
  /** The kernel command line, whole (see {@link bootArgs}). */
  readonly bootArgs: string;
  /** The VM's own copy of the root filesystem image (ext4). */
  readonly rootfsPath: string;
  /**
   * The read-only config disk (`guest-config.ts`: the agent token and the sandbox's environment),
   * the guest's second disk, as under QEMU.
   */
  readonly configDrivePath?: string;
  /** Host TAP and guest MAC; absent: no network interface at all. */
  readonly network?: { readonly tap: string; readonly mac: string };
  /** Guest CID (≥ 3) and the host-side unix socket of the vsock device. */
  readonly vsock: { readonly guestCid: number; readonly udsPath: string };
  /** FIFOs (or files) Firecracker writes its log and metrics to. */
  readonly logPath: string;
  readonly metricsPath: string;
}

/**
 * The kernel command line: serial console, reboot on triple fault (`reboot=k`) so a guest
 * `reboot` ends the Firecracker process, panic → reboot after 1 s, no PCI (Firecracker has
 * none), and the network's `ip=` argument when the VM has an interface.
 */
export function bootArgs(kernelIpArg?: string, extra: readonly string[] = []): string {
  return [
    "console=ttyS0",
    "reboot=k",
    "panic=1",
    "pci=off",
    ...(kernelIpArg ? [kernelIpArg] : []),
    ...extra,
  ].join(" ");
}

/**
 * Firecracker counts vCPUs in whole numbers, 1 or even (SMT pairs), at most 32: a fractional
 * limit rounds up to the next such count.
 */
export function vcpuCount(vcpus: number): number {
  const whole = Math.max(1, Math.ceil(vcpus));
  return Math.min(32, whole === 1 ? 1 : whole + (whole % 2));
}

/** The requests that configure a VM, in the order Firecracker wants them (logger first). */
export function configurationRequests(config: FirecrackerVmConfig): FirecrackerRequest[] {
  const requests: FirecrackerRequest[] = [
    {
      method: "PUT",
      path: "/logger",
      specPath: "/logger",
      definition: "Logger",
      body: { log_path: config.logPath, level: "Warning", show_level: true },
    },
    {
      method: "PUT",
      path: "/metrics",
      specPath: "/metrics",
      definition: "Metrics",
      body: { metrics_path: config.metricsPath },
    },
    {
      method: "PUT",
      path: "/machine-config",
      specPath: "/machine-config",
      definition: "MachineConfiguration",
      body: { vcpu_count: vcpuCount(config.vcpus), mem_size_mib: config.memoryMib, smt: false },
    },
    {
      method: "PUT",
      path: "/boot-source",
      specPath: "/boot-source",
      definition: "BootSource",
      body: {
        kernel_image_path: config.kernelPath,
        ...(config.initrdPath === undefined ? {} : { initrd_path: config.initrdPath }),
        boot_args: config.bootArgs,
      },
    },
    {
      method: "PUT",
      path: "/drives/rootfs",
      specPath: "/drives/{drive_id}",
      definition: "Drive",
      body: {
        drive_id: "rootfs",
        path_on_host: config.rootfsPath,
        is_root_device: true,
        is_read_only: false,
        cache_type: "Unsafe",
        io_engine: "Sync",
      },
    },
  ];
  // After the root drive: the guest sees it as /dev/vdb, where its init looks.
  if (config.configDrivePath !== undefined) {
    requests.push({
      method: "PUT",
      path: "/drives/config",
      specPath: "/drives/{drive_id}",
      definition: "Drive",
      body: {
        drive_id: "config",
        path_on_host: config.configDrivePath,
        is_root_device: false,
        is_read_only: true,
      },
    });
  }
  if (config.network) {
    requests.push({
      method: "PUT",
      path: "/network-interfaces/eth0",
      specPath: "/network-interfaces/{iface_id}",
      definition: "NetworkInterface",
      body: {
        iface_id: "eth0",
        host_dev_name: config.network.tap,
        guest_mac: config.network.mac,
      },
    });
  }
  requests.push({
    method: "PUT",
    path: "/vsock",
    specPath: "/vsock",
    definition: "Vsock",
    body: { guest_cid: config.vsock.guestCid, uds_path: config.vsock.udsPath },
  });
  return requests;
}

/** The actions this backend takes on a configured VM. */
export type FirecrackerAction = "InstanceStart" | "SendCtrlAltDel" | "FlushMetrics";

/** The `PUT /actions` request of `action`. */
export function actionRequest(action: FirecrackerAction): FirecrackerRequest {
  return {
    method: "PUT",
    path: "/actions",
    specPath: "/actions",
    definition: "InstanceActionInfo",
    body: { action_type: action },
  };
}

/** Firecracker answered with an error (its `fault_message`) or not at all. */
export class FirecrackerApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = "FirecrackerApiError";
  }
}

/** A client of one Firecracker process's API socket. */
export class FirecrackerApi {
  readonly #socketPath: string;
  readonly #timeoutMs: number;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.#socketPath = socketPath;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Sends `request`; resolves on a 2xx answer, rejects with Firecracker's fault message otherwise. */
  send(request: FirecrackerRequest): Promise<void> {
    return this.#call(request.method, request.path, request.body).then(() => undefined);
  }

  /** `GET /`: the instance's state (`Not started`, `Running`, `Paused`). */
  async describe(): Promise<{ id: string; state: string; vmm_version: string }> {
    return JSON.parse(await this.#call("GET", "/")) as {
      id: string;
      state: string;
      vmm_version: string;
    };
  }

  #call(method: string, path: string, body?: unknown): Promise<string> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.#socketPath,
          method,
          path,
          timeout: this.#timeoutMs,
          headers: {
            accept: "application/json",
            ...(payload === undefined
              ? {}
              : {
                  "content-type": "application/json",
                  "content-length": Buffer.byteLength(payload),
                }),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve(text);
              return;
            }
            let fault = text;
            try {
              fault = (JSON.parse(text) as { fault_message?: string }).fault_message ?? text;
            } catch {
              // Not JSON: the raw text is the best message there is.
            }
            reject(new FirecrackerApiError(`${method} ${path}: ${status} ${fault}`, status));
          });
        },
      );
      req.on("timeout", () =>
        req.destroy(new FirecrackerApiError(`${method} ${path}: no answer`, undefined)),
      );
      req.on("error", (err) =>
        reject(
          err instanceof FirecrackerApiError
            ? err
            : new FirecrackerApiError(`${method} ${path}: ${err.message}`, undefined),
        ),
      );
      req.end(payload);
    });
  }
}
