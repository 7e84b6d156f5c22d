"use client";
/** A list page for an API that may not exist on this gateway yet: honest about which it is. */
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import type { Page } from "@aetherium/types";
import { isMissingRoute } from "../lib/api/api.js";
import { EmptyState, ErrorState, Loading } from "./ui.js";

export function UpcomingList<T>({
  queryKey,
  load,
  what,
  route,
  empty,
  render,
  refetchInterval,
}: {
  queryKey: readonly unknown[];
  load: () => Promise<Page<T>>;
  what: string;
  route: string;
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
  if (q.isError) {
    if (isMissingRoute(q.error))
      return (
        <EmptyState title={`${what} are not available on this gateway yet`} icon="alert">
          This page is ready for <code>{route}</code>, which this Aetherium does not serve yet. Once
          it does, {what.toLowerCase()} appear here with no change to the dashboard.
        </EmptyState>
      );
    return <ErrorState error={q.error} retry={() => void q.refetch()} />;
  }
  if (q.data.items.length === 0) return <>{empty}</>;
  return <>{render(q.data.items)}</>;
}
