"use client";
/** A list page's body: loading rows, an error with retry, an empty state, or the rows. */
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import type { Page } from "@aetherium/types";
import { ErrorState, Loading } from "./ui.js";

export function QueryList<T>({
  queryKey,
  load,
  empty,
  render,
  refetchInterval,
}: {
  queryKey: readonly unknown[];
  load: () => Promise<Page<T>>;
  empty: ReactNode;
  render: (items: T[]) => ReactNode;
  /** Poll while the items say something is still changing (milliseconds), else `false`. */
  refetchInterval?: (items: T[]) => number | false;
}) {
  const q = useQuery({
    queryKey,
    queryFn: load,
    retry: false,
    ...(refetchInterval && {
      refetchInterval: (query: { state: { data?: Page<T> } }) =>
        query.state.data ? refetchInterval(query.state.data.items) : false,
    }),
  });
  if (q.isPending) return <Loading rows={4} />;
  if (q.isError) return <ErrorState error={q.error} retry={() => void q.refetch()} />;
  if (q.data.items.length === 0) return <>{empty}</>;
  return <>{render(q.data.items)}</>;
}
