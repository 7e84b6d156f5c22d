import { kubeStatus, type KubeApi, type LeaseRecord } from "../kubernetes/kube-api.js";

/** Where the Lease lives and who this replica is. */
export interface LeaseElectorOptions {
  readonly namespace: string;
  readonly name: string;
  /** This replica's identity (its pod name), written as the Lease's holderIdentity. */
  readonly identity: string;
  /** How long a Lease stays held without renewal; a follower takes over after it passes. */
  readonly durationSeconds: number;
  /** Called when this replica starts or stops leading. */
  readonly onChange?: (leading: boolean) => void;
  /** Local clock, for the expiry check. */
  readonly now?: () => number;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the
 * leader renews `renewTime` every tick; a follower takes over only after the Lease's record has
 * not changed for `durationSeconds` as measured on its own clock (so clocks need not agree), and
 * every write is a replace guarded by resourceVersion, so when two replicas race exactly one
 * write lands and the other sees 409 and stays a follower.
 */
export class LeaseElector {
  readonly #api: KubeApi;
  readonly #o: LeaseElectorOptions;
  readonly #now: () => number;
  #leading = false;
  /** The record last seen and when (local clock) it was first seen in that version. */
  #observed: { version: string; at: number } | undefined;
  #lastRenew = 0;

  constructor(api: KubeApi, options: LeaseElectorOptions) {
    this.#api = api;
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Whether this replica holds the Lease as of the last tick. */
  get leading(): boolean {
    return this.#leading;
  }

  /**
   * One round: acquire, renew or observe. Returns whether this replica leads afterwards. A failed
   * renewal keeps leadership only until the renew deadline (two thirds of the duration) passes,
   * so a leader cut off from the API server stops acting before anyone else may start.
   */
  async tick(): Promise<boolean> {
    try {
      this.#set(await this.#attempt());
    } catch (err) {
      const deadline = (this.#o.durationSeconds * 1000 * 2) / 3;
      if (this.#leading && this.#now() - this.#lastRenew > deadline) this.#set(false);
      if (!this.#leading) throw err;
    }
    return this.#leading;
  }

  /** Gives the Lease up (holder cleared) if held, so a follower takes over at once. */
  async release(): Promise<void> {
    if (!this.#leading) return;
    const { namespace, name } = this.#o;
    try {
      const current = await this.#api.readLease(namespace, name);
      if (current?.holder === this.#o.identity) {
        await this.#api.replaceLease(namespace, name, current, {
          holder: "",
          durationSeconds: 1,
          acquired: false,
        });
      }
    } finally {
      this.#set(false);
    }
  }

  async #attempt(): Promise<boolean> {
    const { namespace, name, identity, durationSeconds } = this.#o;
    const now = this.#now();
    const current = await this.#api.readLease(namespace, name);
    if (!current) {
      return this.#write(() => this.#api.createLease(namespace, name, identity, durationSeconds));
    }
    if (this.#observed?.version !== current.resourceVersion) {
      this.#observed = { version: current.resourceVersion, at: now };
    }
    if (current.holder === identity) {
      return this.#write(() =>
        this.#api.replaceLease(namespace, name, current, {
          holder: identity,
          durationSeconds,
          acquired: false,
        }),
      );
    }
    const held = Boolean(current.holder);
    const expired = now - this.#observed.at > current.durationSeconds * 1000;
    if (held && !expired) return false;
    return this.#write(() =>
      this.#api.replaceLease(namespace, name, current, {
        holder: identity,
        durationSeconds,
        acquired: true,
      }),
    );
  }

  async #write(write: () => Promise<LeaseRecord>): Promise<boolean> {
    try {
      const record = await write();
      this.#observed = { version: record.resourceVersion, at: this.#now() };
      this.#lastRenew = this.#now();
      return true;
    } catch (err) {
      // Another replica wrote first: it leads, this one follows.
      if (kubeStatus(err) === 409) return false;
      throw err;
    }
  }

  #set(leading: boolean) {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#o.onChange?.(leading);
  }
}
