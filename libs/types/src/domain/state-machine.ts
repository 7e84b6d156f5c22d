/**
 * A status transition table: for each status, the statuses it may move to. Kept as plain data so
 * that the rules can be read in one place, printed in docs and tested exhaustively.
 */
export type TransitionTable<S extends string> = { readonly [From in S]: readonly S[] };

/**
 * Thrown when code tries to move an entity to a status its transition table does not allow. The
 * caller usually lost a race (the sandbox was deleted meanwhile) and should re-read the entity.
 */
export class IllegalTransitionError extends Error {
  /** Which kind of entity: `vm`, `task`, … */
  readonly entity: string;
  /** The status the entity is in. */
  readonly from: string;
  /** The status that was asked for. */
  readonly to: string;

  /** Builds the error with a message naming the entity and both statuses. */
  constructor(entity: string, from: string, to: string, allowed: readonly string[]) {
    super(
      `illegal ${entity} status transition ${from} → ${to}` +
        (allowed.length > 0
          ? ` (from ${from} only ${allowed.join(", ")})`
          : ` (${from} is terminal)`),
    );
    this.name = "IllegalTransitionError";
    this.entity = entity;
    this.from = from;
    this.to = to;
  }
}

/** True when `table` allows `from → to`. Moving to the same status is not a transition. */
export function canTransition<S extends string>(
  table: TransitionTable<S>,
  from: S,
  to: S,
): boolean {
  return table[from].includes(to);
}

/** Throws {@link IllegalTransitionError} unless `table` allows `from → to`. */
export function assertTransition<S extends string>(
  entity: string,
  table: TransitionTable<S>,
  from: S,
  to: S,
): void {
  if (!canTransition(table, from, to))
    throw new IllegalTransitionError(entity, from, to, table[from]);
}

/** Statuses with no way out. */
export function terminalStatuses<S extends string>(table: TransitionTable<S>): S[] {
  return (Object.keys(table) as S[]).filter((s) => table[s].length === 0);
}
